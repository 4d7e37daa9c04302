import CohortBase
import DHT
import Foundation
import NIOCore
@testable import Node
import Testing
import Wire

@Suite(.timeLimit(.minutes(1))) struct LiveDHTTests {
    func expiry() -> WallClockInstant { SystemClock().now().wall + .seconds(600) }

    @Test func tenNodesStoreAndFindRecordsSurviveAnAbruptLossAndServeALateJoiner() async throws {
        var network = LiveNetwork()
        do {
            let first = try await network.addNode(seed: 100, join: [])
            for seed in 101..<110 {
                _ = try await network.addNode(seed: UInt64(seed), join: [first.endpoint])
            }
            let nodes = network.services
            let key = RecordKey(hashing: "run/test/progress")
            let stored = try await nodes[3].put(key: key, subkey: Array("peer-3".utf8), value: Array("step 7".utf8), expiresAt: expiry())
            #expect(stored.replicas == 10)
            _ = try await nodes[8].put(key: key, subkey: Array("peer-8".utf8), value: Array("step 9".utf8), expiresAt: expiry())
            let found = try await nodes[6].get(key)
            #expect(found.map { String(decoding: $0.value, as: UTF8.self) } == ["step 7", "step 9"])

            try await first.transport.shutdown().get()
            let afterLoss = try await nodes[2].get(key)
            #expect(afterLoss.count == 2)
            let other = RecordKey(hashing: "run/test/rounds")
            let storedAfterLoss = try await nodes[5].put(key: other, subkey: [1], value: [42], expiresAt: expiry())
            #expect(storedAfterLoss.replicas == 9)

            let late = try await network.addNode(seed: 200, join: [nodes[4].endpoint])
            #expect(try await late.get(key).count == 2)
            #expect(try await late.get(other).map(\.value) == [[42]])
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }

    @Test func bootstrapSurvivesADeadAddressAmongSeveral() async throws {
        var network = LiveNetwork()
        do {
            let first = try await network.addNode(seed: 300, join: [])
            let second = try await network.addNode(seed: 301, join: [first.endpoint])
            await first.shutdown()
            let third = try await network.addNode(seed: 302, join: [first.endpoint, second.endpoint])
            #expect(try await third.routingTableCount() == 1)
            _ = try await third.put(key: RecordKey(hashing: "k"), subkey: [1], value: [2], expiresAt: expiry())
            #expect(try await second.get(RecordKey(hashing: "k")).count == 1)
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }

    @Test func operationsAfterShutdownFail() async throws {
        var network = LiveNetwork()
        do {
            let node = try await network.addNode(seed: 400, join: [])
            await node.shutdown()
            await #expect(throws: DHTService.Failure.shutDown) { try await node.get(RecordKey(hashing: "k")) }
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }
}
