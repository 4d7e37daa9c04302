/// Text that another peer chose, made safe to print on one log line or write into a file.
///
/// Peers send host names, error reasons and notes. Printed as they came, a newline forges a
/// log line or a line of the coordinator's `peers.txt`, an ANSI escape sequence drives the
/// operator's terminal, and a bidi override (U+202E) shows the text in another order than it
/// is stored. Decoders refuse such text in the fields that are meant for people; `escaped`
/// makes any other text printable.
public enum PeerText {
    /// Whether `scalar` can end a line, drive a terminal or reorder the text around it: C0 and
    /// C1 controls, DEL, the line and paragraph separators, and the bidi controls.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator:
            return true
        default:
            return properties.isBidiControl
        }
    }

    /// Whether `text` holds no unsafe scalar.
    public static func isSafe(_ text: some StringProtocol) -> Bool {
        !text.unicodeScalars.contains(where: isUnsafe)
    }

    /// `text` with every unsafe scalar written as `\u{…}`, cut to at most `maxBytes` bytes of
    /// UTF-8; a text that was cut ends in "…".
    public static func escaped(_ text: some StringProtocol, maxBytes: Int) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        guard result.utf8.count > maxBytes else { return result }
        let ellipsis = "…"
        precondition(maxBytes >= ellipsis.utf8.count, "no text fits in \(maxBytes) bytes")
        var cut = ""
        var bytes = 0
        for scalar in result.unicodeScalars {
            bytes += UTF8.width(scalar)
            guard bytes + ellipsis.utf8.count <= maxBytes else { break }
            cut.unicodeScalars.append(scalar)
        }
        return cut + ellipsis
    }
}
