import Foundation

/// Creates a run's `--output` directory and its parents (as `mkdir -p`), or throws one line with
/// the system's reason and the part of the path at fault ("/tmp/afile: Not a directory").
public func createOutputDirectory(_ path: String) throws {
    var built = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        built += "/" + component
        if mkdir(built, 0o755) == 0 { continue }
        let reason = errno
        var isDirectory: ObjCBool = false
        if reason == EEXIST && FileManager.default.fileExists(atPath: built, isDirectory: &isDirectory) {
            if isDirectory.boolValue { continue }
            throw ResNetError(.fileSystem, "\(path): cannot create the output directory (\(built) is not a directory)")
        }
        throw ResNetError(
            .fileSystem, "\(path): cannot create the output directory (\(built): \(String(cString: strerror(reason))))")
    }
}
