/// What went wrong in a peer's work, in one line for its log and its exit message.
public struct PeerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
