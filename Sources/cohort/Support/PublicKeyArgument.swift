import ArgumentParser
import Foundation

/// Raw 32-byte Ed25519 public keys on the command line: 64 hex digits, or a file holding them
/// (as `cohort peer --print-key` prints them).
enum PublicKeyArgument {
    /// The key in `text` for `option`; the error says what was expected and what was given.
    static func parse(_ text: String, option: String) throws -> [UInt8] {
        if let key = Hex.bytes(text), key.count == 32 { return key }
        if let data = FileManager.default.contents(atPath: text), data.count <= 1024,
           let contents = String(data: data, encoding: .utf8),
           let key = Hex.bytes(contents.trimmingCharacters(in: .whitespacesAndNewlines)), key.count == 32 {
            return key
        }
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        throw ValidationError("\(option) must be 64 hex digits or a file holding them; \"\(shown)\" is neither")
    }
}

/// Hexadecimal byte strings.
enum Hex {
    /// The bytes of an even number of hex digits (either case); nil for anything else.
    static func bytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
