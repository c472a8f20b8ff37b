// Decoding JPEG (libjpeg-turbo) and PNG (libpng) files held in memory to 8-bit RGB.
// C because libjpeg reports errors by longjmp, which Swift cannot catch.
#ifndef IMAGE_CODEC_H
#define IMAGE_CODEC_H

#include <stddef.h>

typedef struct {
    unsigned char *pixels;  // height x width x 3 (R, G, B), row-major; free with rd_image_free
    int width, height;      // as decoded (after the JPEG decoder's scaling)
    int file_width, file_height;  // as stored in the file
    int file_channels;      // 1 (grayscale), 3 (colour) or 4 (CMYK/YCCK) as stored
    int is_png;
    int warnings;           // libjpeg warnings the decoder recovered from (corrupt data it skipped)
} rd_image;

// Decodes a JPEG or PNG, recognised by its first bytes (not its name). With min_short_side > 0 a JPEG
// is decoded at the smallest scale M/8 (M = 1..8) whose shorter side is still at least that long:
// libjpeg's DCT-domain scaling. Grayscale is replicated to RGB, CMYK/YCCK converted as Pillow does.
// Returns 0, or 1 with a one-line reason in `error` (truncated, corrupt, not an image).
int rd_image_decode(const unsigned char *data, size_t size, int min_short_side, rd_image *out,
                    char *error, size_t error_size);
void rd_image_free(rd_image *image);

#endif
