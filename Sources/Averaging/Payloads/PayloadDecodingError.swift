/// Why bytes from a peer are not a valid averaging payload. A peer that sends one is dropped
/// (DESIGN.md "Principles" 4); the message says what was wrong, for the log.
public struct PayloadDecodingError: Error, Hashable, CustomStringConvertible {
    /// The kind of fault, for code that reacts differently to each; more kinds may come.
    public struct Kind: Hashable, Sendable {
        private enum Code: Hashable, Sendable {
            case truncated, trailingBytes, outOfRange, inconsistentPlan
        }
        private let code: Code

        /// The payload ends before a field it announces.
        public static let truncated = Kind(code: .truncated)
        /// Bytes remain after the last field.
        public static let trailingBytes = Kind(code: .trailingBytes)
        /// A field holds a value outside what the protocol allows (a count, a flag, a codec).
        public static let outOfRange = Kind(code: .outOfRange)
        /// A group plan whose parts or id do not follow from its members.
        public static let inconsistentPlan = Kind(code: .inconsistentPlan)
    }

    public let kind: Kind
    public let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
