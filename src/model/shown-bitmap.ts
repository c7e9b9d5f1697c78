/**
 * The most bytes of a dirty bitmap a result shows. The kernel writes a whole bitmap to the
 * user's buffer (type1 up to `DIRTY_BITMAP_SIZE_MAX`, 256 MiB; iommufd as long as `length` and
 * `page_size` make it), but a result is a string the report prints: 256 MiB of bitmap is 512 Mi
 * hex digits, past the longest string the runtime holds. 16 MiB, 32 MiB of hex, is more than a
 * trace line states at the default line limit; a longer bitmap is shown cut there.
 */
export const SHOWN_BITMAP_BYTES = 1n << 24n;
