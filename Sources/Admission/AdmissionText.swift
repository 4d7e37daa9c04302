import Foundation
import Wire

/// Rules for the short texts inside tokens and revocation lists (run names, volunteer names):
/// 1 to 64 bytes of UTF-8 with nothing `PeerText` finds unsafe (control characters, bidi
/// overrides), so that they print on one log line as they are.
enum AdmissionText {
    static let maxBytes = 64

    /// Throws unless `bytes` are such a text; `what` names the field in the message.
    static func decode(_ bytes: [UInt8], what: String) throws(AdmissionError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw AdmissionError("\(what) is not UTF-8") }
        try validate(text, what: what)
        return text
    }

    static func validate(_ text: String, what: String) throws(AdmissionError) {
        let count = text.utf8.count
        guard count >= 1 else { throw AdmissionError("\(what) is empty") }
        guard count <= maxBytes else { throw AdmissionError("\(what) is \(count) bytes, more than \(maxBytes)") }
        if !PeerText.isSafe(text) {
            throw AdmissionError("\(what) contains a control character")
        }
    }

    /// "9f3c51a0…": enough of a key to tell keys apart in a message.
    static func shortKey(_ key: [UInt8]) -> String {
        key.prefix(4).map { String(format: "%02x", $0) }.joined() + "…"
    }
}
