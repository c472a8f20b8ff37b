import Foundation
import Kernels
import Testing

@testable import ResNet

/// The 200 real ImageNet photos in ../shared (one per class), or $RESNET_DIST_IMAGENET_SAMPLE.
let imageNetSample: String? = {
    let path =
        ProcessInfo.processInfo.environment["RESNET_DIST_IMAGENET_SAMPLE"]
        ?? (packageRoot as NSString).appendingPathComponent("../shared/data/imagenet-sample")
    return ImageFolder.isDirectory(path) ? path : nil
}()
let needsSample: Comment = "needs ../shared/data/imagenet-sample (the shared real ImageNet photos)"

/// The sample's photos, sorted by class.
func samplePhotos() throws -> [String] { try ImageFolder.scan(imageNetSample!).files }

/// An image-folder data set of the first `classes` sample photos, the same images in train/ and val/.
func sampleFolderSet(classes: Int, _ name: String = #function) throws -> String {
    let root = temporaryDirectory(name)
    for photo in try samplePhotos().prefix(classes) {
        let label = ((photo as NSString).deletingLastPathComponent as NSString).lastPathComponent
        for split in ["train", "val"] {
            let folder = "\(root)/\(split)/\(label)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: photo, toPath: "\(folder)/\((photo as NSString).lastPathComponent)")
        }
    }
    return root
}

/// A PNG written by hand (stored zlib blocks): `channels` 1 (grey) or 3 (RGB), 8 bits.
func pngFile(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> Data {
    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
    func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }
    var raw: [UInt8] = []
    for y in 0..<height {
        raw.append(0)  // filter: none
        raw += pixels[(y * width * channels)..<((y + 1) * width * channels)]
    }
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
        let n = min(65535, raw.count - offset)
        let final: UInt8 = offset + n == raw.count ? 1 : 0
        zlib += [final, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
        zlib += raw[offset..<offset + n]
        offset += n
    } while offset < raw.count
    var a: UInt32 = 1
    var b: UInt32 = 0
    for byte in raw {
        a = (a + UInt32(byte)) % 65521
        b = (b + a) % 65521
    }
    zlib += bigEndian(b << 16 | a)
    let header =
        bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, channels == 3 ? 2 : 0, 0, 0, 0]
    return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", []))
}

struct ImageDecodingTests {
    @Test(.enabled(if: imageNetSample != nil, needsSample))
    func everySamplePhotoDecodesAtItsFileSize() throws {
        let photos = try samplePhotos()
        #expect(photos.count == 200)
        var grey = 0
        for photo in photos {
            let image = try DecodedImage(contentsOf: photo)
            #expect(image.width == image.fileWidth && image.height == image.fileHeight)
            #expect(image.pixels.count == image.width * image.height * 3)
            #expect(!image.isPNG)
            if image.fileChannels == 1 {
                // Grayscale comes out as RGB with three equal channels.
                grey += 1
                let p = image.pixels
                var equal = true
                for i in stride(from: 0, to: p.count, by: 3) where p[i] != p[i + 1] || p[i] != p[i + 2] { equal = false }
                #expect(equal, "\(photo): grey decoded with differing channels")
            }
        }
        #expect(grey == 3)  // airship, pencil sharpener, soccer ball
    }

    @Test(.enabled(if: imageNetSample != nil, needsSample))
    func theDecoderScalesInTheDCTDomainNoSmallerThanAsked() throws {
        let photo = try samplePhotos()[0]
        let full = try DecodedImage(contentsOf: photo)
        let shorter = min(full.width, full.height)
        for wanted in [1, 40, shorter / 2, shorter / 2 + 1, shorter - 1, shorter, shorter + 50] {
            let scaled = try DecodedImage(contentsOf: photo, minShortSide: wanted)
            // The smallest M/8 whose shorter side still reaches `wanted` (M = 8 when none does).
            let m = (1...8).first { (shorter * $0 + 7) / 8 >= wanted } ?? 8
            #expect(scaled.width == (full.width * m + 7) / 8 && scaled.height == (full.height * m + 7) / 8, "wanted \(wanted)")
            #expect(min(scaled.width, scaled.height) >= min(wanted, shorter))
        }
    }

    @Test(.enabled(if: imageNetSample != nil, needsSample))
    func truncatedAndCorruptFilesStopWithTheirName() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: try samplePhotos()[0]))
        let cases: [(String, Data, String)] = [
            ("truncated.JPEG", data.prefix(data.count / 2), "truncated JPEG"),
            ("header-only.JPEG", data.prefix(300), "JPEG"),
            ("garbage.JPEG", Data([0xFF, 0xD8, 0xFF] + (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }), "corrupt JPEG"),
            ("empty.JPEG", Data(), "empty file"),
            ("text.JPEG", Data("not an image".utf8), "neither a JPEG nor a PNG"),
            ("truncated.png", pngFile(width: 8, height: 8, channels: 3, pixels: Array(repeating: 9, count: 192)).prefix(60), "PNG"),
        ]
        let dir = temporaryDirectory()
        for (name, bytes, reason) in cases {
            let path = "\(dir)/\(name)"
            try bytes.write(to: URL(fileURLWithPath: path))
            #expect {
                _ = try DecodedImage(contentsOf: path)
            } throws: { isError($0, .data, naming: path, reason) }
        }
    }

    @Test func aPNGNamedJPEGDecodesByItsContent() throws {
        let dir = temporaryDirectory()
        var rgb: [UInt8] = []
        for i in 0..<(5 * 3) { rgb += [UInt8(i * 17 % 256), UInt8(i * 5), UInt8(255 - i)] }
        try pngFile(width: 5, height: 3, channels: 3, pixels: rgb).write(to: URL(fileURLWithPath: "\(dir)/a.JPEG"))
        let image = try DecodedImage(contentsOf: "\(dir)/a.JPEG")
        #expect(image.isPNG && image.width == 5 && image.height == 3 && image.pixels == rgb)
        // A grey PNG comes out as RGB too.
        let grey: [UInt8] = (0..<12).map { UInt8($0 * 20) }
        try pngFile(width: 4, height: 3, channels: 1, pixels: grey).write(to: URL(fileURLWithPath: "\(dir)/g.png"))
        let g = try DecodedImage(contentsOf: "\(dir)/g.png")
        #expect(g.pixels == grey.flatMap { [$0, $0, $0] })
    }
}

struct ImageViewTests {
    /// A synthetic decoded image: pixel (x, y, c) = f(x, y, c).
    func image(width: Int, height: Int, _ f: (Int, Int, Int) -> UInt8) -> DecodedImage {
        var pixels: [UInt8] = []
        for y in 0..<height { for x in 0..<width { for c in 0..<3 { pixels.append(f(x, y, c)) } } }
        let data = pngFile(width: width, height: height, channels: 3, pixels: pixels)
        return try! data.withUnsafeBytes { try DecodedImage(data: $0, name: "synthetic") }
    }

    func write(_ view: ImageView, of image: DecodedImage) -> [Float] {
        let n = 3 * view.size * view.size
        var out = [Float](repeating: .nan, count: n)
        let scale = [Float](repeating: 1, count: n)
        let offset = [Float](repeating: 0, count: n)
        view.write(image, scale: scale, offset: offset, into: &out)
        return out
    }

    @Test func atItsOwnSizeAViewIsTheImagesPixelsMirroredWhenAsked() {
        let img = image(width: 12, height: 9) { x, y, c in UInt8(x * 20 + y + c * 3) }
        let view = ImageView(shortSide: 9, x: 2, y: 1, size: 7, flip: false)
        let plain = write(view, of: img)
        var mirrored = view
        mirrored.flip = true
        let flipped = write(mirrored, of: img)
        for c in 0..<3 {
            for y in 0..<7 {
                for x in 0..<7 {
                    #expect(plain[c * 49 + y * 7 + x] == Float((x + 2) * 20 + (y + 1) + c * 3))
                    #expect(flipped[c * 49 + y * 7 + x] == plain[c * 49 + y * 7 + (6 - x)])
                }
            }
        }
    }

    @Test func resizingKeepsALinearRampLinearAndTheLightingIsAdded() {
        // Halving a ramp 0, 2, 4, ... with pixel centres at half-integers gives 1, 5, 9, ...
        let img = image(width: 40, height: 20) { x, _, _ in UInt8(x * 2) }
        var view = ImageView(shortSide: 10, x: 0, y: 0, size: 10, flip: false, lighting: [1, -2, 0.5])
        let out = write(view, of: img)
        for x in 0..<10 { #expect(out[x] == Float(4 * x + 1) + 1 && out[100 + x] == Float(4 * x + 1) - 2) }
        #expect(ImageView.resized(width: 40, height: 20, shortSide: 10) == (20, 10))
        view.x = 10
        #expect(write(view, of: img)[0] == 41 + 1)
    }

    @Test func trainingViewsAreThePapers() {
        var sides = Set<Int>()
        var flips = 0
        var coefficients: [[Float]] = [[], [], []]
        let draws = 4000
        for position in 0..<draws {
            let (w, h) = position % 2 == 0 ? (500, 375) : (300, 600)
            let view = ImageNetAugmentation.trainingView(seed: 7, epoch: 3, position: position, width: w, height: h)
            #expect(view == ImageNetAugmentation.trainingView(seed: 7, epoch: 3, position: position, width: w, height: h))
            #expect(ImageNetAugmentation.trainingShortSides.contains(view.shortSide))
            #expect(view.shortSide == ImageNetAugmentation.trainingShortSide(seed: 7, epoch: 3, position: position))
            #expect(view.size == 224)
            let (rw, rh) = ImageView.resized(width: w, height: h, shortSide: view.shortSide)
            #expect(min(rw, rh) == view.shortSide && view.x + 224 <= rw && view.y + 224 <= rh)
            sides.insert(view.shortSide)
            if view.flip { flips += 1 }
            // The colour shift's coordinates on the eigenvectors, in units of their eigenvalues.
            for j in 0..<3 {
                let along = (0..<3).reduce(Float(0)) { $0 + ImageNetAugmentation.eigenvectors[$1][j] * view.lighting[$1] }
                coefficients[j].append(along / 255 / ImageNetAugmentation.eigenvalues[j])
            }
        }
        #expect(sides.min() == 256 && sides.max() == 480 && sides.count > 220)
        #expect(abs(Double(flips) / Double(draws) - 0.5) < 0.04)  // 3.5 standard deviations
        for j in 0..<3 {
            let c = coefficients[j].map(Double.init)
            let mean = c.reduce(0, +) / Double(draws)
            let deviation = (c.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws)).squareRoot()
            #expect(abs(mean) < 0.006 && abs(deviation - 0.1) < 0.006, "coefficient \(j): mean \(mean), sd \(deviation)")
        }
        // Another epoch, another view.
        let a = ImageNetAugmentation.trainingView(seed: 7, epoch: 3, position: 1, width: 500, height: 375)
        let b = ImageNetAugmentation.trainingView(seed: 7, epoch: 4, position: 1, width: 500, height: 375)
        #expect(a != b)
    }

    @Test func testViewsAreTheCentreAndTheTenCrops() {
        #expect(ImageNetAugmentation.centerView(width: 500, height: 375) == ImageView(shortSide: 256, x: 58, y: 16, size: 224, flip: false))
        let ten = ImageNetAugmentation.tenCropViews(width: 375, height: 500)  // resized to 256 x 341
        #expect(ten.count == 10)
        #expect(ten.prefix(5).map { [$0.x, $0.y] } == [[0, 0], [32, 0], [0, 117], [32, 117], [16, 58]])
        #expect(ten.prefix(5).allSatisfy { !$0.flip } && ten.suffix(5).allSatisfy(\.flip))
    }

    @Test func viewAveragedScoresOfOneViewAreTrainingsLossAndArgMax() {
        var rng = SplitMix64(seed: 3)
        let classes = 12
        let images = 40
        let logits = (0..<(images * classes)).map { _ in rng.nextNormal() * 3 }
        var labels = (0..<images).map { Int32($0 % classes) }
        var scratch = [Double](repeating: 0, count: classes)
        let reference = SoftmaxCrossEntropy.forwardBackward(
            logits: logits, labels: labels, batch: images, classes: classes, logitsGrad: nil, gradScale: 0)
        let scores = ViewAveragedScores.score(
            logits: logits, labels: labels, images: images, views: 1, classes: classes, scratch: &scratch)
        #expect(scores.lossSum == reference.lossSum && scores.top1 == reference.correct)
        // Top-5 by hand: the label's rank among the logits.
        let top5 = (0..<images).filter { n in
            (0..<classes).filter { logits[n * classes + $0] > logits[n * classes + Int(labels[n])] }.count < 5
        }.count
        #expect(scores.top5 == top5)
        // Two views: the average of the two softmax outputs decides.
        labels = [0, 0]
        let two: [Float] = [0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + [10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let averaged = ViewAveragedScores.score(logits: two, labels: labels, images: 1, views: 2, classes: classes, scratch: &scratch)
        #expect(averaged.top1 == 1 && averaged.top5 == 1)
    }
}

/// A Python with Pillow: $RESNET_DIST_TEST_PYTHON (as .ci/run sets), /tmp/pt (the PyTorch venv), or
/// python3. nil when none has it: the check against Pillow then skips and says so.
let pillowPython: String? = {
    let candidates = [ProcessInfo.processInfo.environment["RESNET_DIST_TEST_PYTHON"], "/tmp/pt/bin/python", "/usr/bin/python3"]
    return candidates.compactMap { $0 }.first { python in
        FileManager.default.isExecutableFile(atPath: python)
            && (try? runProcess(python, ["-c", "import PIL"], timeout: 60).status) == 0
    }
}()

struct PillowAgreementTests {
    /// Pillow decodes every file to RGB (`convert("RGB")`) and writes the bytes; ours must be the same,
    /// at full size: the 200 photos, and a CMYK JPEG, a grey JPEG and a PNG named .JPEG made by Pillow.
    @Test(.enabled(if: imageNetSample != nil && pillowPython != nil, "needs the shared photos and a Python with Pillow"))
    func everyPixelAsPillowDecodesIt() throws {
        let dir = temporaryDirectory()
        let photos = try samplePhotos()
        let script = """
            import sys
            from PIL import Image
            out, first = sys.argv[1], sys.argv[2]
            src = Image.open(first)
            src.convert("CMYK").save(out + "/cmyk.jpg", quality=90)
            src.convert("L").save(out + "/grey.jpg", quality=90)
            src.save(out + "/png-named.JPEG", format="PNG")
            paths = sys.argv[2:] + [out + "/cmyk.jpg", out + "/grey.jpg", out + "/png-named.JPEG"]
            for i, path in enumerate(paths):
                with open("%s/%d.rgb" % (out, i), "wb") as f:
                    f.write(Image.open(path).convert("RGB").tobytes())
            """
        let result = try runProcess(pillowPython!, ["-c", script, dir] + photos, timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let made = ["\(dir)/cmyk.jpg", "\(dir)/grey.jpg", "\(dir)/png-named.JPEG"]
        var differing: [String] = []
        for (i, path) in (photos + made).enumerated() {
            let pillow = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(i).rgb"))
            let ours = try DecodedImage(contentsOf: path)
            if Data(ours.pixels) != pillow { differing.append((path as NSString).lastPathComponent) }
        }
        #expect(differing.isEmpty, "\(differing.count) files decode differently from Pillow: \(differing.prefix(5))")
        #expect(try DecodedImage(contentsOf: made[0]).fileChannels == 4)
        #expect(try DecodedImage(contentsOf: made[2]).isPNG)
    }
}

struct ImageFolderTrainingTests {
    /// ResNet-18 on four real photos: two in-process ranks with sync BN and decode threads train as
    /// one rank filling its batches in place; decode threads change no bit; the checkpoint keeps the
    /// class names and the 224x224 per-pixel mean.
    @Test(.enabled(if: imageNetSample != nil, needsSample))
    func twoRanksWithDecodeThreadsTrainAsOneRank() throws {
        let root = try sampleFolderSet(classes: 4)
        let train = try ImageFolder.scan(root + "/train")
        #expect(train.count == 4 && train.classes.count == 4)
        let normalization = try Normalization.perPixelMean(of: train, threads: 2)
        func run(replicas: Int, decodeThreads: Int, output: String? = nil) throws -> [Double] {
            var config = smallConfig(batch: 4, iterations: 3, lr: 0.01)
            config.architecture = try Architecture.parse("resnet18").with(classes: 4)
            config.syncBatchNorm = true
            config.seed = 5
            config.decodeThreads = decodeThreads
            config.outputDirectory = output
            let source = ImageFolderLoader(
                folder: train, globalBatch: 4, seed: 5, views: .training, normalization: normalization)
            return try InProcessReplicas.run(
                replicas: replicas, config: config, train: source, test: nil, normalization: normalization,
                logger: quietLogger)[0].result.losses
        }
        let inPlace = try run(replicas: 1, decodeThreads: 0)
        #expect(inPlace.count == 3 && inPlace.allSatisfy(\.isFinite))
        #expect(try run(replicas: 1, decodeThreads: 2) == inPlace)
        let output = temporaryDirectory()
        let two = try run(replicas: 2, decodeThreads: 1, output: output)
        // The first step sees the same weights and views: the same per-image losses, whose double sum
        // is added in another order (each rank's two, then across the ranks): equal to the last bits
        // of a double (measured: 2 ulp apart). After it, the two ranks' gradient sums differ in float32
        // order (1e-7 relative), and two images per rank under sync BN amplify that step by step
        // (measured: 4e-7 after one update, 2e-4 after two).
        #expect(abs(two[0] - inPlace[0]) <= 1e-14 * abs(inPlace[0]), "\(inPlace) against \(two)")
        for (a, b) in zip(inPlace, two).dropFirst() { #expect(abs(a - b) <= 1e-3 * abs(a), "\(inPlace) against \(two)") }
        let loaded = try Checkpoint.load(output + "/checkpoint-00000003.safetensors")
        #expect(try loaded.classNames() == train.classes)
        #expect(loaded.architecture.classes == 4)
        #expect(try loaded.normalization() == normalization)
    }
}

/// `--recipe paper-imagenet` trains Figure 4's networks: option A unless --shortcut says B.
@Test(.enabled(if: imageNetSample != nil, needsSample))
func paperImageNetRecipeTakesOptionA() throws {
    let root = try sampleFolderSet(classes: 2)
    let common = [
        "train", "--arch", "resnet18", "--data", root, "--recipe", "paper-imagenet", "--batch-size", "2",
        "--iterations", "1", "--mean-images", "2",
    ]
    let exe = try #require(executablePath(), "resnet-dist not built")
    let recipe = try runProcess(exe, common)
    #expect(recipe.status == 0, "\(recipe.stderr)")
    #expect(recipe.stderr.contains("training resnet18/A (11003714 parameters)"), "\(recipe.stderr)")
    let projections = try runProcess(exe, common + ["--shortcut", "B"])
    #expect(projections.status == 0, "\(projections.stderr)")
    #expect(projections.stderr.contains("training resnet18/B (11177538 parameters)"), "\(projections.stderr)")
}

/// `--warmup-epochs` ramps the ImageNet recipe too (it was silently dropped there until 2026-12-02):
/// 2 images at batch 2 are one iteration an epoch, so 2 epochs ramp from 0.1/2 over 2 iterations
/// (the milestones moved past the run: at 2 iterations the recipe's fall at 25% and 50% of it).
@Test(.enabled(if: imageNetSample != nil, needsSample))
func paperImageNetRecipeTakesTheWarmupRamp() throws {
    let root = try sampleFolderSet(classes: 2)
    let dir = temporaryDirectory("imagenet-ramp")
    let exe = try #require(executablePath(), "resnet-dist not built")
    let out = try runProcess(
        exe,
        [
            "train", "--arch", "resnet18", "--data", root, "--recipe", "paper-imagenet", "--batch-size", "2",
            "--iterations", "2", "--mean-images", "2", "--warmup-epochs", "2", "--milestones", "100", "--log-every", "1",
            "--output", dir,
        ])
    #expect(out.status == 0, "\(out.stderr)")
    let rates = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        .compactMap { line -> Double? in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["kind"] as? String == "train" ? object?["lr"] as? Double : nil
        }
    #expect(rates.count == 2 && abs(rates[0] - 0.05) < 1e-12 && abs(rates[1] - 0.075) < 1e-12, "\(rates)")
}

struct BadImageTests {
    /// A folder with an unreadable file: the batch stops with the file's name, or, with
    /// skipBadImages, takes the next image in its place and counts it.
    @Test(.enabled(if: imageNetSample != nil, needsSample))
    func aBadFileStopsTheBatchOrIsSkippedAndCounted() throws {
        let root = try sampleFolderSet(classes: 3)
        let bad = "\(root)/train/n01440764/zz-truncated.JPEG"
        let good = try Data(contentsOf: URL(fileURLWithPath: try samplePhotos()[1]))
        try good.prefix(good.count / 3).write(to: URL(fileURLWithPath: bad))
        let folder = try ImageFolder.scan(root + "/train")
        #expect(folder.files[1] == bad)  // sorted within the first class
        let raw = Normalization.perChannel(mean: [0, 0, 0], std: [1, 1, 1])
        let images = UnsafeMutablePointer<Float>.allocate(capacity: 4 * 3 * 224 * 224)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: 4)
        defer {
            images.deallocate()
            labels.deallocate()
        }
        let order: [Int32] = [0, 1, 2, 3]
        let strict = ImageFolderLoader(folder: folder, globalBatch: 4, seed: 1, views: .center, normalization: raw)
        #expect {
            _ = try strict.fill(epoch: 0, order: order, positions: 0..<4, images: images, labels: labels)
        } throws: { isError($0, .data, naming: bad, "truncated JPEG") }
        let lenient = ImageFolderLoader(
            folder: folder, globalBatch: 4, seed: 1, views: .center, normalization: raw, skipBadImages: true)
        #expect(try lenient.fill(epoch: 0, order: order, positions: 0..<4, images: images, labels: labels) == 4)
        #expect(lenient.skipped.value == 1)
        // The bad file's slot holds the next image (the second class's), with its label.
        #expect(Array(UnsafeBufferPointer(start: labels, count: 4)) == [0, 1, 1, 2])
        let second = 3 * 224 * 224
        #expect(memcmp(images + second, images + 2 * second, second * 4) == 0)
    }
}
