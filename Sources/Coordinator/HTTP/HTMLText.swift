import Foundation

/// Text helpers for the server-rendered page: escaping and the number formats it shows.
enum HTMLText {
    /// Escapes `text` for HTML element content and quoted attribute values.
    ///
    /// Everything on the page that comes from the status (run name, peer ids, round notes,
    /// paths) passes through here: peers choose their own ids and notes carry peer-supplied
    /// error text, so none of it may be read as markup.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// `value` with a fixed number of decimals; "–" for NaN or infinity (a diverged loss).
    static func decimal(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "–" }
        return String(format: "%.\(digits)f", value)
    }

    /// An integer with thin-space thousands separators, e.g. "1 234 567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var groups: [Substring] = []
        var end = digits.endIndex
        while end > digits.startIndex {
            let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
            groups.insert(digits[start..<end], at: 0)
            end = start
        }
        return (value < 0 ? "-" : "") + groups.joined(separator: "\u{2009}")
    }

    /// A duration for people: "42 s", "7 min 05 s", "3 h 20 min".
    static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "–" }
        let whole = Int(seconds)
        switch whole {
        case ..<60: return "\(whole) s"
        case ..<3600: return String(format: "%d min %02d s", whole / 60, whole % 60)
        default: return String(format: "%d h %02d min", whole / 3600, whole / 60 % 60)
        }
    }
}
