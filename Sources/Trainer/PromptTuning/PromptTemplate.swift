/// How an example becomes a row of tokens: a prefix (the prompt vectors, or nothing), the
/// example's text, a separator, and at the separator's last position the class's label token
/// as the only scored target. The rest of the row is padding after it, which a causal model
/// cannot see from the scored position.
public struct PromptTemplate: Sendable, Equatable {
    public let prefix: [Int32]
    public let separator: [UInt8]
    /// The target token of each class.
    public let labelTokens: [Int32]

    public static let defaultSeparator = Array("\n\n".utf8)

    public init(prefix: [Int32], separator: [UInt8] = PromptTemplate.defaultSeparator, labelTokens: [Int32]) {
        precondition(!separator.isEmpty, "a template needs a separator to predict the label after")
        self.prefix = prefix
        self.separator = separator
        self.labelTokens = labelTokens
    }

    /// Tokens a row of `text` takes up to and including the scored position.
    public func length(of text: [UInt8]) -> Int { prefix.count + text.count + separator.count }

    /// Writes `example` into row `row` of tokens/targets (rows of `time`) and returns the
    /// index within the row of the scored position.
    @discardableResult
    public func render(_ example: PromptTask.Example, row: Int, time: Int,
                       tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>) -> Int {
        precondition(length(of: example.text) <= time, "an example of \(length(of: example.text)) tokens does not fit rows of \(time)")
        let start = row * time
        var position = start
        func put(_ token: Int32) {
            tokens[position] = token
            targets[position] = -1
            position += 1
        }
        for token in prefix { put(token) }
        for byte in example.text { put(Int32(byte)) }
        for byte in separator { put(Int32(byte)) }
        let scored = position - 1
        targets[scored] = labelTokens[example.label]
        while position < start + time { put(Int32(separator[0])) }
        return scored - start
    }
}
