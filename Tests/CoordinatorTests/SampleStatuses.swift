import Foundation
@testable import Coordinator

/// Statuses the dashboard tests serve.
enum SampleStatuses {
    /// A small status whose strings try to inject markup, to check the page escapes them.
    static let hostile = CoordinatorStatus(
        runName: "demo <b>run</b> & co",
        joinAddress: "127.0.0.1:7000",
        step: 3, targetBatchSize: 64, samplesAccumulated: 16,
        peers: [.init(id: "9f3c\"><img src=x>", step: 3, samplesAccumulated: 16, samplesPerSecond: 5.5, loss: 2.5,
                      clientMode: true, secondsSinceUpdate: 0.5)],
        history: RoundHistory(rounds: [
            .init(step: 1, members: 2, samples: 64, durationSeconds: 0.25, loss: 2.75, samplesPerSecond: 40,
                  bytesSent: 100, bytesReceived: 120, failedParts: 0, note: "", recordedAtMilliseconds: 1_000),
            .init(step: 2, members: 3, samples: 70, durationSeconds: 0.5, loss: 2.625, samplesPerSecond: 44,
                  bytesSent: 100, bytesReceived: 120, failedParts: 2, note: "<script>alert(1)</script>",
                  recordedAtMilliseconds: 2_000),
        ]),
        lastCheckpointStep: 2, lastCheckpointPath: "/runs/demo/step-2.ckpt", hashMismatches: 1, uptimeSeconds: 75)

    /// A run as an operator would see it mid-training: 30 rounds of falling loss and 4 peers.
    static func realistic() -> CoordinatorStatus {
        let peerIDs = ["9f3c1a", "04be77", "c2d981", "5a10fe"]
        let rounds = (1...30).map { step -> CoordinatorStatus.Round in
            let members = step < 10 ? 3 : 4
            let samples = 256 + (step * 37) % 40
            let duration = 0.8 + 0.05 * Double(step % 4)
            let loss = 1.45 + 2.7 * exp(-Double(step) / 9) + 0.04 * sin(Double(step))
            return .init(step: step, members: members, samples: samples, durationSeconds: duration, loss: loss,
                         samplesPerSecond: Double(samples) / (duration + 4.2 - Double(members) * 0.3),
                         bytesSent: 3_400_000, bytesReceived: 3_400_000, failedParts: step == 17 ? 1 : 0,
                         note: step == 17 ? "peer 5a10fe timed out on part 3; part re-reduced" : "",
                         recordedAtMilliseconds: 1_700_000_000_000 + UInt64(step) * 5_000)
        }
        let peers = peerIDs.enumerated().map { index, id in
            CoordinatorStatus.Peer(id: id + "…", step: 30, samplesAccumulated: 20 + index * 13,
                                   samplesPerSecond: 14.5 + Double(index) * 3.25, loss: 1.62 + Double(index) * 0.03,
                                   clientMode: index == 3, secondsSinceUpdate: 0.4 + Double(index) * 0.7)
        }
        return CoordinatorStatus(
            runName: "tiny-shakespeare-alibi", joinAddress: "203.0.113.7:7000", step: 30, targetBatchSize: 256,
            samplesAccumulated: 98, peers: peers, history: RoundHistory(rounds: rounds), lastCheckpointStep: 25,
            lastCheckpointPath: "/var/lib/cohort/checkpoints/step-25.ckpt", hashMismatches: 0, uptimeSeconds: 1_385)
    }
}
