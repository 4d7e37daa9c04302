import NIOCore
import NIOEmbedded
import Testing
@testable import Coordinator

/// The dashboard's connection cap in the listening channel's pipeline, fed accepted connections
/// by hand: which ones get through, which are closed, and when a slot is given back.
@Suite struct ConnectionLimiterTests {
    let loop = EmbeddedEventLoop()

    /// A listening channel whose pipeline holds the limiter, as `DashboardServer` sets it up.
    func listener(maximum: Int) -> EmbeddedChannel {
        EmbeddedChannel(handler: ConnectionLimiter(maximum: maximum), loop: loop)
    }

    /// Hands `listener` a freshly accepted connection; whether it was passed on.
    func accept(into listener: EmbeddedChannel) throws -> (connection: EmbeddedChannel, passedOn: Bool) {
        let connection = EmbeddedChannel(loop: loop)
        try connection.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try listener.writeInbound(connection as any Channel)
        let passed = try listener.readInbound(as: (any Channel).self)
        return (connection, passed.map { $0 === connection } ?? false)
    }

    /// Closes `connection` and runs the loop until its close future has completed.
    func close(_ connection: EmbeddedChannel) {
        connection.close(promise: nil)
        loop.run()
    }

    @Test func connectionsBeyondTheMaximumAreClosedAtOnceAndNotPassedOn() throws {
        let listener = listener(maximum: 2)
        let admitted = try (0..<2).map { _ in try accept(into: listener) }
        #expect(admitted.allSatisfy { $0.passedOn && $0.connection.isActive })
        let refused = try accept(into: listener)
        #expect(!refused.passedOn)
        #expect(!refused.connection.isActive)
    }

    @Test func aClosedConnectionGivesItsSlotBackOnce() throws {
        let listener = listener(maximum: 1)
        let first = try accept(into: listener)
        close(first.connection)
        let second = try accept(into: listener)
        #expect(second.passedOn)
        // The first connection's close was counted once: one slot, and the second holds it.
        #expect(try !accept(into: listener).passedOn)
    }

    /// A refused connection never held a slot, so its close must not free one: otherwise each
    /// refusal would raise the cap by one.
    @Test func refusedConnectionsGiveNoSlotBack() throws {
        let listener = listener(maximum: 1)
        let held = try accept(into: listener)
        for _ in 0..<5 {
            #expect(try !accept(into: listener).passedOn)
        }
        close(held.connection)
        #expect(try accept(into: listener).passedOn)
        #expect(try !accept(into: listener).passedOn)
    }

    @Test func aZeroMaximumRefusesEverything() throws {
        let listener = listener(maximum: 0)
        let attempt = try accept(into: listener)
        #expect(!attempt.passedOn)
        #expect(!attempt.connection.isActive)
    }
}
