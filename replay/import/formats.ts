/** The capture formats `import` reads (kept apart, so that the command line knows them without loading the importers). */
export const CAPTURE_FORMATS = ['qemu', 'strace', 'syz'] as const;
export type CaptureFormat = (typeof CAPTURE_FORMATS)[number];
