import DHT
import Foundation
@testable import Node
import Testing
import Wire

/// Raw TCP clients that misbehave at each layer; the node must drop them and keep serving.
@Suite(.timeLimit(.minutes(1))) struct GarbageTests {
    enum Attack: CaseIterable {
        case garbageBeforeHandshake, badRecord, badFrame, oversizedFrame, undecodablePayload
    }

    @Test(arguments: Attack.allCases) func misbehavingClientIsDisconnectedAndOthersAreStillServed(_ attack: Attack) async throws {
        var network = LiveNetwork()
        var settings = LiveNetwork.settings()
        settings.transport.maxMessageBytes = 4096
        do {
            let target = try await network.addNode(seed: 500, join: [], settings: settings)
            let honest = try await network.addNode(seed: 501, join: [target.endpoint])
            let client = try RawClient(port: target.endpoint.port)
            defer { client.close() }
            switch attack {
            case .garbageBeforeHandshake:
                client.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            case .badRecord:
                _ = try client.handshake(with: target.peerID)
                client.send([20, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 20))
            case .badFrame:
                var sealer = try client.handshake(with: target.peerID)
                client.send(try sealer.seal(Array("not a frame at all, just words".utf8)))
            case .oversizedFrame:
                var sealer = try client.handshake(with: target.peerID)
                let frame = Frame(type: .store, requestID: 1, payload: [UInt8](repeating: 0, count: 5000)).encoded()
                client.send(try sealer.seal(Array(frame.prefix(Frame.headerLength))))
            case .undecodablePayload:
                var sealer = try client.handshake(with: target.peerID)
                client.send(try sealer.seal(Frame(type: .findNode, requestID: 1, payload: [1, 2, 3]).encoded()))
            }
            #expect(client.closedByPeer())
            let key = RecordKey(hashing: "still/serving")
            let expiry = UInt64(Date().timeIntervalSince1970 * 1000) + 60_000
            #expect(try await honest.put(key: key, subkey: [1], value: [7], expiry: expiry).replicas == 2)
            #expect(try await target.get(key).map(\.value) == [[7]])
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }
}
