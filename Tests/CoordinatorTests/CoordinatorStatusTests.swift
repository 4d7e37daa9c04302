import Foundation
import Testing
@testable import Coordinator

@Suite struct CoordinatorStatusTests {
    @Test func statusRoundTripsThroughJSON() throws {
        let status = CoordinatorStatus(
            runName: "demo", joinAddress: "127.0.0.1:7000", step: 3, targetBatchSize: 64, samplesAccumulated: 10,
            peers: [.init(id: "9f3c…", step: 3, samplesAccumulated: 10, samplesPerSecond: 5, loss: 2.5, clientMode: false,
                          secondsSinceUpdate: 0.5)],
            history: RoundHistory(rounds: [.init(step: 2, members: 2, samples: 64, durationSeconds: 0.3, loss: 2.6,
                                                 samplesPerSecond: 40, bytesSent: 100, bytesReceived: 100, failedParts: 0,
                                                 note: "", recordedAtMilliseconds: 1)]),
            lastCheckpointStep: nil, lastCheckpointPath: nil, hashMismatches: 0, uptimeSeconds: 12)
        let data = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(CoordinatorStatus.self, from: data) == status)
    }
}
