/// One page of the round history, as `/api/rounds` serves it.
public struct RoundPage: Sendable, Equatable, Codable {
    /// Consecutive journaled rounds, oldest first.
    public var rounds: [CoordinatorStatus.Round]
    /// The `since` that asks for the next page; nil once the page reaches the newest round.
    public var nextSince: Int?

    public init(rounds: [CoordinatorStatus.Round], nextSince: Int?) {
        self.rounds = rounds
        self.nextSince = nextSince
    }

    private enum CodingKeys: String, CodingKey {
        case rounds, nextSince
    }

    /// Writes `next_since` as `null` on the last page rather than leaving it out, so a client
    /// sees the field it loops on in every answer.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rounds, forKey: .rounds)
        try container.encode(nextSince, forKey: .nextSince)
    }
}
