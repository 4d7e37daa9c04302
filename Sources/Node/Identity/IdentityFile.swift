import Crypto
import DHT
import Foundation

/// A peer's Ed25519 key on disk, created on first start and readable by its owner only.
///
/// The file is one line: `cohort-ed25519-v1 ` followed by the 32-byte private key in 64
/// lower-case hex digits. It is created with mode 0600 (and never overwritten); a symbolic link,
/// a file of another user and one that the group or others may read or write are refused, as ssh
/// refuses such a private key.
public enum IdentityFile {
    static let header = "cohort-ed25519-v1 "

    /// Why a key file could not be used.
    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "identity file \(path): \(reason)" }
    }

    /// The identity in the file at `path`, creating the file with a new key if there is none.
    public static func loadOrCreate(at path: String) throws(Error) -> PeerIdentity {
        var status = stat()
        // lstat: a link, even a dangling one, is loaded (and refused), never created through.
        if lstat(path, &status) == 0 { return try load(at: path) }
        let identity = PeerIdentity(privateKey: Curve25519.Signing.PrivateKey())
        try create(identity, at: path)
        return identity
    }

    /// The identity in an existing file; refuses a symbolic link, a file of another user, one with
    /// loose permissions, or a bad format.
    public static func load(at path: String) throws(Error) -> PeerIdentity {
        // O_NOFOLLOW and fstat on the open descriptor: the checks are about the very file read,
        // not whatever a link (or a file swapped in between a stat and an open) points to.
        // O_NONBLOCK: a FIFO planted here must not hang the open; fstat then refuses it.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ELOOP {
                throw Error(path: path, reason: "is a symbolic link; give the key file's own path, or move the key here")
            }
            throw Error(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Error(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))") }
        try checkPrivate(status, path: path)
        var bytes = [UInt8](repeating: 0, count: 257)
        let count = read(descriptor, &bytes, bytes.count)
        guard count >= 0 else { throw Error(path: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
        guard count <= 256, let text = String(validating: bytes[..<count], as: UTF8.self),
              let key = parse(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Error(path: path, reason: "not a Cohort key file (expected \"\(header)\" and 64 hex digits)")
        }
        return PeerIdentity(privateKey: key)
    }

    /// A regular file of this user that nobody else may read or change, as ssh requires of a private key.
    private static func checkPrivate(_ status: stat, path: String) throws(Error) {
        guard status.st_mode & S_IFMT == S_IFREG else { throw Error(path: path, reason: "not a regular file") }
        guard status.st_uid == geteuid() else {
            throw Error(path: path, reason: "belongs to uid \(status.st_uid), not to this user (uid \(geteuid())); run chown \(geteuid()) \(path) or use a key of your own")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Error(path: path, reason: "permissions \(String(mode, radix: 8)) let others read or change the key; run chmod 600 \(path)")
        }
    }

    private static func parse(_ line: String) -> Curve25519.Signing.PrivateKey? {
        guard line.hasPrefix(header) else { return nil }
        let hex = Array(line.dropFirst(header.count).utf8)
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = hexValue(hex[index]), let low = hexValue(hex[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func create(_ identity: PeerIdentity, at path: String) throws(Error) {
        let hex = identity.privateKey.rawRepresentation.map { String(format: "%02x", $0) }.joined()
        let bytes = Array((header + hex + "\n").utf8)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Error(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw Error(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
