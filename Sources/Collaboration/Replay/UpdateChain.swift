/// The updates a donor offers for a replay, checked against what was asked: from the state
/// `fromHash` of `fromStep`, one update per step, each starting where the one before ended,
/// to the state `toHash` of `toStep`, each over this model's elements.
///
/// An honest donor never sends another chain, since it answers only with a chain its log
/// holds from and to exactly those states; one that does is making a false claim.
public struct UpdateChain: Sendable, Equatable {
    /// At most this many updates in one replay (and kept by a peer): a joiner further behind
    /// downloads the state.
    public static let maxLength = 64

    public let headers: [UpdateHeader]

    public init(headers: [UpdateHeader], fromStep: Int, fromHash: [UInt8], toStep: Int, toHash: [UInt8],
                elementCount: Int) throws(UpdateChainMismatch) {
        guard toStep > fromStep, toStep - fromStep <= Self.maxLength else {
            throw UpdateChainMismatch("a replay from step \(fromStep) to step \(toStep) is not 1 to \(Self.maxLength) updates")
        }
        guard headers.count == toStep - fromStep else {
            throw UpdateChainMismatch("\(headers.count) updates from step \(fromStep) to step \(toStep)")
        }
        var hash = fromHash
        for (offset, header) in headers.enumerated() {
            guard header.fromStep == fromStep + offset else {
                throw UpdateChainMismatch("update \(offset) starts at step \(header.fromStep), not \(fromStep + offset)")
            }
            guard header.hashBefore == hash else {
                throw UpdateChainMismatch("the update from step \(header.fromStep) does not start from the state before it")
            }
            guard header.elementCount == elementCount else {
                throw UpdateChainMismatch("the update from step \(header.fromStep) has \(header.elementCount) elements, not \(elementCount)")
            }
            guard UpdateHeader.areValidSkipped(header.skipped, elementCount: elementCount) else {
                throw UpdateChainMismatch("the update from step \(header.fromStep) skips ranges out of order or out of bounds")
            }
            hash = header.hashAfter
        }
        guard hash == toHash else { throw UpdateChainMismatch("the updates do not end at the state of step \(toStep) asked for") }
        self.headers = headers
    }
}

/// Why a donor's chain of updates is not the one asked for.
public struct UpdateChainMismatch: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
