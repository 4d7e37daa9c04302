import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a reader sees either the old content or the complete new content:
/// write a temporary file in the same folder, fsync it, rename it over the target, fsync the folder.
public enum AtomicFile {
    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        // A name nobody can guess, created with O_EXCL: a file or a symbolic link planted at the
        // temporary path cannot take the write (O_EXCL fails on a link instead of following it).
        let unique = String(UInt64.random(in: .min ... .max), radix: 16)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(unique).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Error(description: "\(temporary.path): cannot create (\(errnoText()))") }
        var written = 0
        let failure: String? = data.withUnsafeBytes { raw -> String? in
            while written < raw.count {
                let result = Glibc.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return "write failed (\(errnoText()))"
                }
                written += result
            }
            return fsync(descriptor) == 0 ? nil : "fsync failed (\(errnoText()))"
        }
        close(descriptor)
        if let failure {
            unlink(temporary.path)
            throw Error(description: "\(temporary.path): \(failure)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = errnoText()
            unlink(temporary.path)
            throw Error(description: "\(url.path): cannot replace (\(reason))")
        }
        let folderDescriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
