import Foundation

/// Images in the layout of ImageNet as the PyTorch examples use it: `ROOT/CLASS/*.{JPEG,jpg,jpeg,png}`.
/// Classes are the sorted folder names; files are sorted within each class.
public struct ImageFolder: Sendable, Equatable {
    public let root: String
    public let classes: [String]
    /// Paths relative to nothing: `root/CLASS/FILE`.
    public let files: [String]
    public let labels: [Int32]

    public static let extensions: Set<String> = ["jpeg", "jpg", "png"]

    public var count: Int { files.count }

    public init(root: String, classes: [String], files: [String], labels: [Int32]) {
        self.root = root
        self.classes = classes
        self.files = files
        self.labels = labels
    }

    /// Lists `root`. Throws a `.data` error naming the folder when it has no class folders or no images.
    public static func scan(_ root: String) throws -> ImageFolder {
        let manager = FileManager.default
        guard let entries = try? manager.contentsOfDirectory(atPath: root) else {
            throw ResNetError(.data, "\(root): missing or unreadable image folder")
        }
        let classes = entries.filter { isDirectory((root as NSString).appendingPathComponent($0)) }
            .filter { !$0.hasPrefix(".") }.sorted()
        guard !classes.isEmpty else {
            throw ResNetError(.data, "\(root): no class folders (expected \(root)/CLASS/IMAGE.JPEG)")
        }
        var files: [String] = []
        var labels: [Int32] = []
        for (label, name) in classes.enumerated() {
            let folder = (root as NSString).appendingPathComponent(name)
            let images = ((try? manager.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            for image in images {
                files.append((folder as NSString).appendingPathComponent(image))
                labels.append(Int32(label))
            }
        }
        guard !files.isEmpty else {
            throw ResNetError(.data, "\(root): no images (.JPEG, .jpg, .png) in its \(classes.count) class folders")
        }
        return ImageFolder(root: root, classes: classes, files: files, labels: labels)
    }

    /// True when `directory` has `train/` and `val/` folders (the image-folder layout of a data set).
    public static func isDataSet(_ directory: String) -> Bool {
        ["train", "val"].allSatisfy { isDirectory((directory as NSString).appendingPathComponent($0)) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
