import CohortBase
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import Coordinator

/// The dashboard's request deadline on the embedded loop's virtual clock: what a slow client
/// can hold, to the nanosecond, without sockets or sleeps.
@Suite struct RequestDeadlineHandlerTests {
    static let timeout = TimeAmount.seconds(20)
    static let justBefore = timeout - .nanoseconds(1)
    static let head = HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/status"))
    static let responseHead = HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok))

    /// An accepted connection with the deadline handler, as the dashboard sets it up.
    func acceptedConnection() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(timeout: Self.timeout))
        return channel
    }

    @Test func aConnectionThatSendsNothingIsClosedAtTheDeadline() throws {
        let channel = try acceptedConnection()
        channel.embeddedEventLoop.advanceTime(by: Self.justBefore)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive)
    }

    /// Slowloris: every part arrives well within any read timeout, the request never ends.
    @Test func aRequestTrickledPartByPartIsClosedAtTheDeadlineCountedFromTheAccept() throws {
        let channel = try acceptedConnection()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try channel.writeInbound(Self.head)
        for _ in 0..<14 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "x")))
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(1) - .nanoseconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive)
    }

    @Test func timeSpentAnsweringDoesNotCountAndTheAnswersEndRestartsTheClock() throws {
        let channel = try acceptedConnection()
        channel.embeddedEventLoop.advanceTime(by: .seconds(19))
        try channel.writeInbound(Self.head)
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(100))
        #expect(channel.isActive, "closed while the request was being answered")

        // The head and body of the answer do not restart the clock; only its end does.
        try channel.writeOutbound(Self.responseHead)
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "{}"))))
        channel.embeddedEventLoop.advanceTime(by: .seconds(100))
        #expect(channel.isActive, "closed while the answer was being written")
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: Self.justBefore)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive, "a kept-alive connection idled past the deadline")
    }

    @Test func eachRequestOnAKeptAliveConnectionGetsTheWholeTimeout() throws {
        let channel = try acceptedConnection()
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: Self.justBefore)
            try channel.writeInbound(Self.head)
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            try channel.writeOutbound(Self.responseHead)
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: Self.timeout)
        #expect(!channel.isActive)
    }

    @Test func partsPassThroughUnchanged() throws {
        let channel = try acceptedConnection()
        try channel.writeInbound(Self.head)
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try channel.writeOutbound(Self.responseHead)
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == Self.head)
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == Self.responseHead)
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == .end(nil))
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
    }
}
