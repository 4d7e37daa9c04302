import Foundation

/// The text form of tokens and revocation lists: one line, a tag naming the format and
/// version, a space, and the binary encoding in standard base64 (RFC 4648 §4). Text survives
/// e-mail and chat, and the tag makes a wrong file fail with a clear message.
enum TaggedBase64 {
    static func encode(tag: String, _ bytes: [UInt8]) -> String {
        "\(tag) \(Data(bytes).base64EncodedString())\n"
    }

    /// The bytes in `text`, which must be `tag`, one space and base64 of at most `maxBytes`
    /// bytes, with optional surrounding whitespace.
    static func decode(_ text: [UInt8], tag: String, maxBytes: Int) throws(AdmissionError) -> [UInt8] {
        let maxTextBytes = maxTextBytes(tag: tag, maxBytes: maxBytes)
        guard text.count <= maxTextBytes else {
            throw AdmissionError("is \(text.count) bytes, more than the \(maxTextBytes) of a \(tag) line")
        }
        guard let string = String(validating: text, as: UTF8.self) else { throw AdmissionError("is not UTF-8 text") }
        let line = string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix(tag + " ") else { throw AdmissionError("does not start with \"\(tag) \"") }
        let encoded = line.dropFirst(tag.utf8.count + 1)
        guard let data = Data(base64Encoded: String(encoded)) else { throw AdmissionError("is not valid base64 after \"\(tag) \"") }
        return Array(data)
    }

    /// The longest text `decode` accepts: the line plus room for surrounding whitespace.
    static func maxTextBytes(tag: String, maxBytes: Int) -> Int {
        tag.utf8.count + 1 + (maxBytes + 2) / 3 * 4 + 64
    }

    /// Reads a small file for `decode`, refusing one larger than `maxTextBytes` before reading it all.
    static func readFile(at path: String, maxTextBytes: Int) throws(AdmissionError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw AdmissionError("cannot read \(path)") }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maxTextBytes + 1) else { throw AdmissionError("cannot read \(path)") }
        guard data.count <= maxTextBytes else { throw AdmissionError("\(path) is larger than \(maxTextBytes) bytes") }
        return Array(data)
    }
}
