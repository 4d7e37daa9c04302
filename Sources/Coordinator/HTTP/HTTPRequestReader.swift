import NIOHTTP1

/// Collects the parts of one HTTP/1.1 request and enforces the size bound.
///
/// A pure state machine: the connection feeds it every part it reads and acts on what it returns.
/// The dashboard serves only small GET requests, so the head (target and header fields) and any
/// body together must fit in `maximumBytes`; a larger request is answered with 413 and the
/// connection closed, so a client can't make the coordinator buffer without limit.
struct HTTPRequestReader {
    /// What the connection does after a part was read.
    enum Action: Equatable {
        /// The request isn't complete yet: read on.
        case readMore
        /// A whole request arrived and fit the bound: answer it.
        case respond(to: HTTPRequestHead)
        /// The request grew past the bound: answer 413 and close.
        case rejectTooLarge
    }

    private enum State {
        case awaitingHead
        case readingBody(HTTPRequestHead, bytesSoFar: Int)
        /// Past the bound: the rest of this request is dropped until its end.
        case discarding
    }

    let maximumBytes: Int
    private var state = State.awaitingHead

    init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    /// Feeds one part read from the connection.
    mutating func onPart(_ part: HTTPServerRequestPart) -> Action {
        switch (state, part) {
        case (.awaitingHead, .head(let head)):
            return admit(head, bytes: Self.headSize(head))
        case (.readingBody(let head, let bytesSoFar), .body(let buffer)):
            return admit(head, bytes: bytesSoFar + buffer.readableBytes)
        case (.readingBody(let head, _), .end):
            state = .awaitingHead
            return .respond(to: head)
        case (.discarding, .end):
            state = .awaitingHead
            return .readMore
        case (.discarding, _):
            return .readMore
        case (.awaitingHead, .body), (.awaitingHead, .end), (.readingBody, .head):
            preconditionFailure("NIOHTTP1 delivered \(part) while the reader was in state \(state)")
        }
    }

    private mutating func admit(_ head: HTTPRequestHead, bytes: Int) -> Action {
        guard bytes <= maximumBytes else {
            state = .discarding
            return .rejectTooLarge
        }
        state = .readingBody(head, bytesSoFar: bytes)
        return .readMore
    }

    /// Approximate bytes of the request line and header fields as they came over the wire.
    private static func headSize(_ head: HTTPRequestHead) -> Int {
        let requestLine = head.method.rawValue.utf8.count + head.uri.utf8.count + 12
        return head.headers.reduce(requestLine) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }
}
