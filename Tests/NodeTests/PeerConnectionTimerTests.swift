import CohortBase
import Admission
import DHT
import NIOCore
@testable import Node
import Testing
import Wire

/// The connection's own timers on the embedded loop's virtual clock: the idle timeout, the
/// end of the peer's admission, and the retirement of a duplicate connection.
@Suite struct PeerConnectionTimerTests {
    func connection(_ configure: (inout TransportSettings) -> Void = { _ in }) throws -> EmbeddedPeerConnection {
        var settings = TransportSettings()
        configure(&settings)
        return try EmbeddedPeerConnection(settings: settings)
    }

    @Test func anIdleConnectionClosesAtTheIdleTimeout() throws {
        let connection = try connection { $0.idleTimeout = .seconds(10) }
        connection.establish()
        connection.loop.advanceTime(by: .seconds(10) - .nanoseconds(1))
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .nanoseconds(1))
        #expect(!connection.channel.isActive)
        #expect(connection.log.closed == 1)
    }

    /// A connection waiting for a reply is not idle however long it waits; once the reply came,
    /// the timeout counts from it.
    @Test func aRequestInFlightKeepsTheConnectionOpenAndTheTimeoutCountsFromTheLastFrame() throws {
        let connection = try connection { $0.idleTimeout = .seconds(10) }
        connection.establish()
        connection.loop.advanceTime(by: .seconds(5))
        let request = connection.request(timeout: .seconds(60))
        connection.loop.advanceTime(by: .seconds(12))
        #expect(connection.channel.isActive, "closed with a request in flight")
        try connection.receive(Frame(type: .pong, requestID: 1, payload: []))
        #expect(request.value != nil)
        connection.loop.advanceTime(by: .seconds(10) - .nanoseconds(1))
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .nanoseconds(1))
        #expect(!connection.channel.isActive)
    }

    @Test func aRequestBeingServedKeepsTheConnectionOpen() throws {
        let connection = try connection { $0.idleTimeout = .seconds(10) }
        connection.establish()
        try connection.receive(Frame(type: .ping, requestID: 1, payload: []))
        connection.loop.advanceTime(by: .seconds(60))
        #expect(connection.channel.isActive, "closed while serving a request")
        connection.log.answerOldest(with: DHTMessage.pong.frame(requestID: 0))
        connection.loop.advanceTime(by: .seconds(20))
        #expect(!connection.channel.isActive)
    }

    @Test func theConnectionClosesWhenThePeersTokenExpires() throws {
        let connection = try connection { $0.admission = AdmissionPolicy(clock: ManualClock(wall: .at(TestRun.now))) }
        connection.establish(token: TestRun.token(for: EmbeddedPeerConnection.peer, expiry: TestRun.now + TestRun.hour))
        let request = connection.request(timeout: .hours(2))
        connection.loop.advanceTime(by: .milliseconds(Int64(TestRun.hour)) - .nanoseconds(1))
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .nanoseconds(1))
        #expect(!connection.channel.isActive)
        #expect(request.error as? TransportError == .connectionClosed)
    }

    /// The handshake checked the token against its own reading of the clock; one that has
    /// expired by the time the connection is set up closes it at once.
    @Test func aTokenExpiredByTheTimeOfTheEstablishedEventClosesAtOnce() throws {
        let connection = try connection { $0.admission = AdmissionPolicy(clock: ManualClock(wall: .at(TestRun.now))) }
        connection.establish(token: TestRun.token(for: EmbeddedPeerConnection.peer, expiry: TestRun.now - 1))
        connection.loop.run()
        #expect(!connection.channel.isActive)
    }

    /// A token that expires in centuries does not overflow the timer.
    @Test func aFarFutureExpiryKeepsTheConnectionOpen() throws {
        let connection = try connection {
            $0.admission = AdmissionPolicy(clock: ManualClock(wall: .at(TestRun.now)))
            $0.idleTimeout = .hours(1_000_000)
        }
        connection.establish(token: TestRun.token(for: EmbeddedPeerConnection.peer, expiry: UInt64.max - 1))
        connection.loop.advanceTime(by: .hours(24 * 365))
        #expect(connection.channel.isActive)
    }

    /// The loser of a simultaneous-dial tie takes no new requests, answers what the peer still
    /// sends during the grace period, and closes at the first grace-period check that finds
    /// it idle.
    @Test func aRetiredConnectionClosesAtTheFirstCheckThatFindsItIdle() throws {
        let connection = try connection { $0.duplicateGracePeriod = .milliseconds(500) }
        connection.establish()
        let inFlight = connection.request(timeout: .seconds(10))
        connection.handler.retire()
        #expect(connection.request().error as? TransportError == .connectionClosed)
        try connection.receive(Frame(type: .ping, requestID: 7, payload: []))
        #expect(connection.log.served.map(\.requestID) == [7])

        connection.loop.advanceTime(by: .milliseconds(500))
        #expect(connection.channel.isActive, "closed with a request in flight")
        try connection.receive(Frame(type: .pong, requestID: 1, payload: []))
        #expect(inFlight.value != nil)
        connection.loop.advanceTime(by: .milliseconds(500))
        #expect(connection.channel.isActive, "closed while serving the peer's request")
        connection.log.answerOldest(with: DHTMessage.pong.frame(requestID: 0))
        connection.loop.advanceTime(by: .milliseconds(499))
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .milliseconds(1))
        #expect(!connection.channel.isActive)
    }
}
