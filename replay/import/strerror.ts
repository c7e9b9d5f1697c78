/**
 * glibc's `strerror()` texts (`%m`, `strerror(errno)`), which QEMU and strace print beside an
 * errno: the errno each names, on Linux.
 */
import { type Errno, errnoName } from '../../events/errno.ts';

const TEXTS: { readonly [text: string]: Errno } = {
  'Operation not permitted': 'EPERM',
  'No such file or directory': 'ENOENT',
  'No such process': 'ESRCH',
  'Interrupted system call': 'EINTR',
  'Input/output error': 'EIO',
  'No such device or address': 'ENXIO',
  'Argument list too long': 'E2BIG',
  'Bad file descriptor': 'EBADF',
  'Resource temporarily unavailable': 'EAGAIN',
  'Cannot allocate memory': 'ENOMEM',
  'Permission denied': 'EACCES',
  'Bad address': 'EFAULT',
  'Device or resource busy': 'EBUSY',
  'File exists': 'EEXIST',
  'No such device': 'ENODEV',
  'Invalid argument': 'EINVAL',
  'Too many open files': 'EMFILE',
  'Inappropriate ioctl for device': 'ENOTTY',
  'No space left on device': 'ENOSPC',
  'Numerical result out of range': 'ERANGE',
  'Function not implemented': 'ENOSYS',
  'Value too large for defined data type': 'EOVERFLOW',
  'File descriptor in bad state': 'EBADFD',
  'Message too long': 'EMSGSIZE',
  'Operation not supported': 'EOPNOTSUPP',
  'Address already in use': 'EADDRINUSE',
  'Connection timed out': 'ETIMEDOUT',
};

/** The errno a `strerror()` text names, if it is one of glibc's. */
export const errnoOfText = (text: string): Errno | undefined => TEXTS[text.trim()];

/** The errno of a negative return value (`-22`), if it is one. */
export const errnoOfReturn = (ret: bigint): Errno | undefined => (ret < 0n ? errnoName(Number(-ret)) : undefined);
