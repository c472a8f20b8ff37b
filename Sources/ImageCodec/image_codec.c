#include "image_codec.h"

#include <stdio.h>  // jpeglib.h needs FILE
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf back;
    int truncated;  // the file ended before the image did (libjpeg only warns and fills with grey)
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    longjmp(failure->back, 1);
}

static void jpeg_warning(j_common_ptr info, int level) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    if (level < 0) {
        if (info->err->msg_code == JWRN_JPEG_EOF) failure->truncated = 1;
        info->err->num_warnings++;
    }
}

static void set_error(char *error, size_t size, const char *text) {
    if (size > 0) snprintf(error, size, "%s", text);
}

// Pillow's CMYK to RGB (inverted CMYK in files with an Adobe marker, as Photoshop writes them).
static void cmyk_to_rgb(const unsigned char *in, unsigned char *out, int width, int inverted) {
    for (int x = 0; x < width; x++) {
        int c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
        if (inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        int nk = 255 - k;
        int v[3] = {c, m, y};
        for (int i = 0; i < 3; i++) {
            int t = v[i] * nk + 128;
            int r = nk - (((t >> 8) + t) >> 8);
            out[3 * x + i] = (unsigned char)(r < 0 ? 0 : r > 255 ? 255 : r);
        }
    }
}

static int decode_jpeg(const unsigned char *data, size_t size, int min_short_side, rd_image *out, char *error,
                       size_t error_size) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile row = NULL;
    unsigned char *volatile pixels = NULL;
    memset(&failure, 0, sizeof failure);
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_warning;
    if (setjmp(failure.back)) {
        char text[JMSG_LENGTH_MAX];
        (*info.err->format_message)((j_common_ptr)&info, text);
        char line[JMSG_LENGTH_MAX + 32];
        snprintf(line, sizeof line, "corrupt JPEG (%s)", text);
        set_error(error, error_size, line);
        jpeg_destroy_decompress(&info);
        free(row);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    out->file_width = (int)info.image_width;
    out->file_height = (int)info.image_height;
    out->file_channels = info.num_components;
    info.scale_num = 8;
    info.scale_denom = 8;
    if (min_short_side > 0) {
        unsigned shorter = info.image_width < info.image_height ? info.image_width : info.image_height;
        for (unsigned m = 1; m <= 8; m++) {
            if ((shorter * m + 7) / 8 >= (unsigned)min_short_side) {
                info.scale_num = m;
                break;
            }
        }
    }
    jpeg_start_decompress(&info);
    int width = (int)info.output_width, height = (int)info.output_height;
    int components = info.output_components;
    pixels = malloc((size_t)width * height * 3);
    row = cmyk ? malloc((size_t)width * components) : NULL;
    if (!pixels || (cmyk && !row)) {
        set_error(error, error_size, "out of memory decoding a JPEG");
        jpeg_destroy_decompress(&info);
        free(row);
        free(pixels);
        return 1;
    }
    while (info.output_scanline < info.output_height) {
        unsigned char *line = pixels + (size_t)info.output_scanline * width * 3;
        JSAMPROW target = cmyk ? row : line;
        jpeg_read_scanlines(&info, &target, 1);
        if (cmyk) cmyk_to_rgb(row, line, width, info.saw_Adobe_marker);
        if (failure.truncated) break;
    }
    if (failure.truncated) {
        set_error(error, error_size, "truncated JPEG (the file ends before the image does)");
        jpeg_destroy_decompress(&info);
        free(row);
        free(pixels);
        return 1;
    }
    jpeg_finish_decompress(&info);
    out->warnings = (int)failure.manager.num_warnings;
    jpeg_destroy_decompress(&info);
    free(row);
    out->pixels = pixels;
    out->width = width;
    out->height = height;
    out->is_png = 0;
    return 0;
}

static int decode_png(const unsigned char *data, size_t size, rd_image *out, char *error, size_t error_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        char line[128];
        snprintf(line, sizeof line, "corrupt PNG (%s)", image.message);
        set_error(error, error_size, line);
        return 1;
    }
    out->file_width = (int)image.width;
    out->file_height = (int)image.height;
    out->file_channels = (image.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    image.format = PNG_FORMAT_RGB;
    unsigned char *pixels = malloc(PNG_IMAGE_SIZE(image));
    if (!pixels) {
        png_image_free(&image);
        set_error(error, error_size, "out of memory decoding a PNG");
        return 1;
    }
    if (!png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
        char line[128];
        snprintf(line, sizeof line, "corrupt or truncated PNG (%s)", image.message);
        set_error(error, error_size, line);
        png_image_free(&image);
        free(pixels);
        return 1;
    }
    out->pixels = pixels;
    out->width = (int)image.width;
    out->height = (int)image.height;
    out->is_png = 1;
    out->warnings = 0;
    return 0;
}

int rd_image_decode(const unsigned char *data, size_t size, int min_short_side, rd_image *out, char *error,
                    size_t error_size) {
    memset(out, 0, sizeof *out);
    static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(data, size, min_short_side, out, error, error_size);
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) return decode_png(data, size, out, error, error_size);
    set_error(error, error_size, size == 0 ? "empty file" : "neither a JPEG nor a PNG (by its first bytes)");
    return 1;
}

void rd_image_free(rd_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}
