/// One network input cut from a decoded image: the image resized (bilinear) so that its shorter side
/// is `shortSide`, the `size` x `size` square at (`x`, `y`) of that, mirrored when `flip`, with
/// `lighting` (per channel, in pixel units 0-255) added to every pixel.
public struct ImageView: Sendable, Equatable {
    public var shortSide: Int
    public var x: Int
    public var y: Int
    public var size: Int
    public var flip: Bool
    public var lighting: [Float] = [0, 0, 0]

    public init(shortSide: Int, x: Int, y: Int, size: Int, flip: Bool, lighting: [Float] = [0, 0, 0]) {
        self.shortSide = shortSide
        self.x = x
        self.y = y
        self.size = size
        self.flip = flip
        self.lighting = lighting
    }

    /// A `width` x `height` image resized so that its shorter side is `shortSide` (aspect kept).
    public static func resized(width: Int, height: Int, shortSide: Int) -> (width: Int, height: Int) {
        if width <= height {
            return (shortSide, max(shortSide, Int((Double(height) * Double(shortSide) / Double(width)).rounded())))
        }
        return (max(shortSide, Int((Double(width) * Double(shortSide) / Double(height)).rounded())), shortSide)
    }

    /// Writes this view of `image` into `output` [3, size, size] as `(pixel + lighting[c]) * scale[i]
    /// + offset[i]`. Bilinear with pixel centres at half-integers (as OpenCV and PIL's bilinear
    /// without antialiasing), edges clamped. The decoder's scaling leaves less than 2x to shrink, so
    /// no pixel is skipped.
    public func write(
        _ image: DecodedImage, scale: UnsafePointer<Float>, offset: UnsafePointer<Float>,
        into output: UnsafeMutablePointer<Float>
    ) {
        let (resizedWidth, resizedHeight) = Self.resized(width: image.width, height: image.height, shortSide: shortSide)
        precondition(x >= 0 && y >= 0 && x + size <= resizedWidth && y + size <= resizedHeight)
        // Source columns and rows of every output column and row, and their weights.
        func taps(_ count: Int, start: Int, resized: Int, source: Int, mirrored: Bool) -> [(Int, Int, Float)] {
            let ratio = Double(source) / Double(resized)
            return (0..<count).map { i in
                let target = start + (mirrored ? count - 1 - i : i)
                let s = min(max((Double(target) + 0.5) * ratio - 0.5, 0), Double(source - 1))
                let lo = Int(s)
                return (lo, min(lo + 1, source - 1), Float(s - Double(lo)))
            }
        }
        let columns = taps(size, start: x, resized: resizedWidth, source: image.width, mirrored: flip)
        let rows = taps(size, start: y, resized: resizedHeight, source: image.height, mirrored: false)
        let plane = size * size
        let stride = image.width * 3
        image.pixels.withUnsafeBufferPointer { pixels in
            let p = pixels.baseAddress!
            for (oy, (y0, y1, wy)) in rows.enumerated() {
                let top = p + y0 * stride
                let bottom = p + y1 * stride
                for c in 0..<3 {
                    let add = lighting[c]
                    let base = c * plane + oy * size
                    for (ox, (x0, x1, wx)) in columns.enumerated() {
                        let a = Float(top[x0 * 3 + c]), b = Float(top[x1 * 3 + c])
                        let d = Float(bottom[x0 * 3 + c]), e = Float(bottom[x1 * 3 + c])
                        let upper = a + (b - a) * wx
                        let lower = d + (e - d) * wx
                        let value = upper + (lower - upper) * wy + add
                        output[base + ox] = value * scale[base + ox] + offset[base + ox]
                    }
                }
            }
        }
    }
}
