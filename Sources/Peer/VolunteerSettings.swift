import Admission
import Foundation
import Node
import StateSync
import Trainer
import Wire

/// How a volunteer peer runs; every field has a documented default.
public struct VolunteerSettings: Sendable {
    /// DHT nodes to join through (the coordinator or any peer of the run).
    public var join: [Endpoint]
    /// Where to accept connections; port 0 lets the OS choose.
    public var listen = Endpoint(host: "127.0.0.1", port: 0)
    /// The host other peers should dial, when it differs from the listening one (behind NAT
    /// with a forwarded port, or listening on 0.0.0.0).
    public var announceHost: String?
    /// The port other peers should dial, when a NAT forwards another port than the listening one.
    public var announcePort: UInt16?
    /// Accept no connections (behind NAT without a forwarded port): train and average as a
    /// client, own no part of the vector, serve no state.
    public var clientMode = false
    /// Copy averaging chunks straight out of the memory of peers proven to run on this machine
    /// instead of sending them through sockets (docs/protocol.md, "Same-host copies"). Off by
    /// default: under Yama's ptrace_scope 1 it lets every process of the user read this one.
    public var sameHostCopies = false
    /// This volunteer's training text; nil means the text bundled with the binary, which only
    /// a run on the bundled dataset accepts.
    public var dataURL: URL?
    /// The text bundled with the binary.
    public var bundledDataURL: URL
    /// The frozen base model a prompt-tuning run adapts (a checkpoint or transformers BLOOM
    /// folder); only such runs read it, and they refuse a base whose hash is not the run's.
    public var baseModelURL: URL?
    /// Which run to join when the DHT hosts several; nil accepts the only one.
    public var runName: String?
    /// The coordinator's Ed25519 public key (32 bytes), to accept only its run configs.
    public var coordinatorKey: [UInt8]?
    /// This volunteer's access token to an admitted-only run; nil joins an open run. With a
    /// token the peer admits only the run's peers, and its issuer is the coordinator key.
    public var accessToken: AccessToken?
    /// Sequences per forward pass at most (bounds memory); nil uses the run's micro-batch.
    public var maxMicroBatch: Int?
    /// Where the trainer's passes run for a run of the given settings: an accelerator (a GPU),
    /// or nil for the CPU. Asked once, when the run's config is known; it may throw to refuse.
    public var accelerator: @Sendable (TrainingSettings) throws -> (any TrainingAccelerator)? = { _ in nil }
    /// Stop after this step (for tests and demos); nil trains until stopped.
    public var stopAfterStep: Int?
    /// Key file of this peer's identity; nil creates a throw-away identity.
    public var identityPath: String?
    /// Bandwidth (bytes/s) to announce for load balancing instead of the measured estimate: a
    /// volunteer who knows its link, or equal parts for everyone when all give the same value.
    public var fixedBandwidth: UInt64?
    /// Applied updates kept for peers that replay them instead of downloading the state again
    /// (docs/protocol.md, "Update replay"), and how many steps behind this peer replays
    /// rather than downloads. Costs this many times 4 bytes per parameter of memory; 0 keeps
    /// none and never replays. At most `UpdateChain.maxLength`.
    public var replayUpdates = 4
    /// Under local SGD, train the next inner steps while the round averages (one-step-delayed
    /// outer update) instead of waiting for it; on by default.
    public var trainsWhileAveraging = true
    /// With `trainsWhileAveraging`, a peer one step behind joins the next round while it
    /// replays the update it missed in the background (docs/protocol.md, "Late join"); on by
    /// default.
    public var joinsLate = true
    /// With `trainsWhileAveraging`, train on while the group forms too; on by default.
    public var trainsWhileMatchmaking = true
    /// Test hook: delay or drop the frames this peer sends (the fault-injection suite's lossy
    /// links); off by default.
    public var faults = FaultInjection()

    public init(join: [Endpoint], dataURL: URL?, bundledDataURL: URL) {
        self.join = join
        self.dataURL = dataURL
        self.bundledDataURL = bundledDataURL
    }
}
