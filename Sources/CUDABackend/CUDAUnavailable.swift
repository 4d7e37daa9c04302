/// Why CUDA cannot be used here: a missing library or driver, no device, a failed call.
/// Its description is one line meant for the user, naming what is missing and where it was
/// looked for.
public struct CUDAUnavailable: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
