import Foundation
import ImageCodec

/// An 8-bit RGB image as the decoder left it: `pixels` is height x width x 3, row-major.
public struct DecodedImage: Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]
    /// The size stored in the file (larger than `width` x `height` when the JPEG decoder scaled).
    public var fileWidth: Int
    public var fileHeight: Int
    /// 1 (grayscale), 3 (colour) or 4 (CMYK) channels as stored.
    public var fileChannels: Int
    public var isPNG: Bool

    /// Decodes the JPEG or PNG in `data` (recognised by its first bytes: ImageNet has a PNG named
    /// .JPEG). With `minShortSide`, a JPEG is decoded at the smallest of libjpeg's scales M/8 whose
    /// shorter side is still at least that long (DCT-domain scaling: a 2000-pixel photo bound for a
    /// 256-pixel crop costs a quarter of the work). Throws a `.data` error naming `name`.
    public init(data: UnsafeRawBufferPointer, minShortSide: Int = 0, name: String) throws {
        var image = rd_image()
        var error = [CChar](repeating: 0, count: 256)
        let status = rd_image_decode(
            data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, Int32(minShortSide), &image,
            &error, error.count)
        guard status == 0 else {
            throw ResNetError(.data, "\(name): \(String(cString: error))")
        }
        defer { rd_image_free(&image) }
        width = Int(image.width)
        height = Int(image.height)
        pixels = Array(UnsafeBufferPointer(start: image.pixels, count: width * height * 3))
        fileWidth = Int(image.file_width)
        fileHeight = Int(image.file_height)
        fileChannels = Int(image.file_channels)
        isPNG = image.is_png != 0
    }

    /// Reads and decodes the file at `path`.
    public init(contentsOf path: String, minShortSide: Int = 0) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ResNetError(.data, "\(path): missing or unreadable image file")
        }
        self = try data.withUnsafeBytes { try DecodedImage(data: $0, minShortSide: minShortSide, name: path) }
    }
}
