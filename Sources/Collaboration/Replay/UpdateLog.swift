/// A peer's newest applied updates, which it serves to peers replaying them
/// (`AppliedUpdate`): at most `capacity`, and only a contiguous chain, each starting from the
/// state the one before it ended at.
///
/// A peer that reloads a state (a catch-up, a hash mismatch) must not serve a chain across the
/// gap: the update after the reload starts from a state no kept update ended at, so the log
/// forgets everything before it. Memory: `capacity` × 4 bytes × elements (plus the headers).
public struct UpdateLog: Sendable {
    public let capacity: Int
    /// Oldest first.
    public private(set) var updates: [AppliedUpdate] = []

    public init(capacity: Int) {
        precondition(capacity >= 0, "an update log keeps a non-negative number of updates, not \(capacity)")
        self.capacity = capacity
    }

    /// Keeps `update` as the newest, forgetting the oldest beyond `capacity`, and every kept one
    /// when `update` does not continue from the newest. An update whose skipped ranges cannot
    /// be served (`UpdateHeader.areValidSkipped`) breaks the chain instead.
    public mutating func append(_ update: AppliedUpdate) {
        guard capacity > 0 else { return }
        if let newest = updates.last,
           newest.header.fromStep + 1 != update.header.fromStep || newest.header.hashAfter != update.header.hashBefore {
            updates.removeAll()
        }
        guard UpdateHeader.areValidSkipped(update.header.skipped, elementCount: update.header.elementCount) else {
            updates.removeAll()
            return
        }
        updates.append(update)
        if updates.count > capacity { updates.removeFirst(updates.count - capacity) }
    }

    /// The kept updates that lead from the state `fromHash` of `fromStep` to the state `toHash`
    /// of `toStep`, in order; nil unless the log holds that whole chain.
    public func chain(fromStep: Int, fromHash: [UInt8], toStep: Int, toHash: [UInt8]) -> ArraySlice<AppliedUpdate>? {
        guard let first = updates.firstIndex(where: { $0.header.fromStep == fromStep && $0.header.hashBefore == fromHash }) else {
            return nil
        }
        let last = first + (toStep - fromStep) - 1
        guard toStep > fromStep, last < updates.count, updates[last].header.hashAfter == toHash else { return nil }
        return updates[first...last]
    }

    /// The kept update from the state `hashBefore` of `fromStep`, if any.
    public func update(fromStep: Int, hashBefore: [UInt8]) -> AppliedUpdate? {
        updates.last { $0.header.fromStep == fromStep && $0.header.hashBefore == hashBefore }
    }
}
