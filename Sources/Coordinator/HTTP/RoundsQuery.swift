/// What `GET /api/rounds?since=STEP&limit=N` asks for: journaled rounds from step `since` on
/// (default 0), at most `limit` of them (1 to `maximumLimit`, default `maximumLimit`).
public struct RoundsQuery: Sendable, Equatable {
    /// Bounds one answer to about 200 KB of JSON; a client pages for more.
    public static let maximumLimit = 1_000

    public var since: Int
    public var limit: Int

    public init(since: Int = 0, limit: Int = maximumLimit) {
        self.since = since
        self.limit = limit
    }

    /// Why a query was refused, in one line for the 400 answer.
    struct Invalid: Error, Equatable {
        let reason: String
    }

    /// Reads the query part of a request target (after the `?`); every parameter must be known,
    /// given once and in range.
    init(parsing query: Substring) throws(Invalid) {
        self.init()
        var seen: Set<Substring> = []
        for parameter in query.split(separator: "&") {
            let field = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = field[0]
            guard name == "since" || name == "limit" else {
                throw Invalid(reason: "unknown parameter '\(Self.shown(name))': /api/rounds takes since and limit")
            }
            guard seen.insert(name).inserted else { throw Invalid(reason: "\(name) is given more than once") }
            let text = field.count == 2 ? field[1] : ""
            let value = text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber) ? Int(text) : nil
            if name == "since" {
                guard let value else { throw Invalid(reason: "since must be a step number (0 or more), not '\(Self.shown(text))'") }
                since = value
            } else {
                guard let value, (1...Self.maximumLimit).contains(value) else {
                    throw Invalid(reason: "limit must be a whole number from 1 to \(Self.maximumLimit), not '\(Self.shown(text))'")
                }
                limit = value
            }
        }
    }

    /// Enough of a client's text to recognise it, without echoing a whole long target back.
    private static func shown(_ text: Substring) -> Substring {
        text.count > 40 ? text.prefix(40) + "…" : text
    }
}
