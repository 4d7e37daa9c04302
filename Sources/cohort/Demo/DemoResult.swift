import Coordinator
import Foundation

/// What `cohort demo --summary` writes.
struct DemoResult {
    var rounds = 0
    var maxPeers = 0
    var failedRounds = 0
    var hashMismatches = 0
    var initialValidationLoss: Double
    var finalValidationLoss = Double.nan
    var dashboardURL: String
    /// Sequences the rounds averaged, and the averaging bytes all members sent for them.
    var samples = 0
    var bytesSent: UInt64 = 0
    /// Tokens per sequence, to turn samples into tokens.
    let contextLength: Int
    /// The live peers' mean share of time in forward and backward at the end, and each one's
    /// (`PeerActivity.utilisation`, from the coordinator's status); nil if none reported.
    var utilisation: Double?
    var peerUtilisations: [Double] = []
    /// A prompt-tuning demo's accuracies: the collaborative prompt before and after training,
    /// the base model zero-shot, every parameter fine-tuned.
    var promptTuning: PromptTuningReport?
    /// From the first round to the last, in seconds.
    var trainingSeconds = 0.0
    private var firstRoundAt: UInt64?

    init(initialValidationLoss: Double, dashboardURL: String, contextLength: Int) {
        self.initialValidationLoss = initialValidationLoss
        self.dashboardURL = dashboardURL
        self.contextLength = contextLength
    }

    /// Averaging bytes sent per token trained: what a run costs its volunteers' uplinks.
    var bytesPerToken: Double { samples > 0 ? Double(bytesSent) / Double(samples * contextLength) : 0 }

    mutating func record(_ round: CoordinatorStatus.Round) {
        samples += round.samples
        bytesSent += round.bytesSent
        firstRoundAt = firstRoundAt ?? round.recordedAtMilliseconds
        trainingSeconds = Double(round.recordedAtMilliseconds &- firstRoundAt!) / 1000
        rounds += 1
        maxPeers = max(maxPeers, round.members)
        if round.failedParts > 0 || round.members == 0 { failedRounds += 1 }
    }

    var json: [String: Any] {
        var json = common
        if let promptTuning { json["prompt_tuning"] = promptTuning.json }
        return json
    }

    private var common: [String: Any] {
        ["rounds": rounds, "max_peers": maxPeers, "initial_val_loss": initialValidationLoss,
         "final_val_loss": finalValidationLoss, "failed_rounds": failedRounds, "hash_mismatches": hashMismatches,
         "dashboard_url": dashboardURL, "samples": samples, "bytes_per_token": bytesPerToken,
         "training_seconds": trainingSeconds, "utilisation": utilisation ?? NSNull(), "peer_utilisations": peerUtilisations]
    }
}

/// Prints the coordinator's journal as it grows: one line per averaging round.
struct RoundTable {
    private var offset = 0
    private(set) var lastStep: Int?
    private var printedHeader = false

    mutating func newRounds(in journal: URL) -> [CoordinatorStatus.Round] {
        guard let data = FileManager.default.contents(atPath: journal.path), data.count > offset else { return [] }
        let fresh = data[offset...]
        guard let lastNewline = fresh.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        offset = lastNewline + 1
        let rounds = fresh[..<lastNewline].split(separator: UInt8(ascii: "\n")).compactMap {
            RoundJournal.decode(line: Data($0))
        }
        if let last = rounds.last { lastStep = last.step }
        return rounds
    }

    mutating func print(_ round: CoordinatorStatus.Round) {
        if !printedHeader {
            printedHeader = true
            Swift.print(" step | peers | samples |   loss | samples/s | round s | note")
        }
        Swift.print(String(format: "%5d | %5d | %7d | %6.3f | %9.1f | %7.2f | %@", round.step, round.members, round.samples,
                           round.loss, round.samplesPerSecond, round.durationSeconds, round.note))
    }
}
