import Averaging
import DHT
import Wire

extension VolunteerSession {
    /// A micro-batch is in: train on, or, once `progressInterval` has passed since the last
    /// publication, look at the run.
    mutating func onTrained(samples: Int, seconds: Double, loss: Double, _ now: Now) -> [Directive] {
        accumulatedSamples += samples
        throughput.record(samples: samples, seconds: seconds)
        windowLoss += loss * Double(samples)
        windowSamples += samples
        if progressReadInFlight {
            return trainOrLeave(now)
        }
        if let last = lastPublished, now.monotonic - last < settings.progressInterval {
            return trainOrLeave(now)
        }
        lastPublished = now.monotonic
        if now.monotonic >= nextReconnect {
            return [.checkStillAdmitted, .rejoinIfIsolated]
        }
        return [.checkStillAdmitted] + publishAndReadProgress(now)
    }

    /// When every contact is gone (the network was lost), the shell joined again through the
    /// join addresses; pauses between failed attempts grow, and training goes on meanwhile.
    mutating func onConnectivityChecked(_ connectivity: Connectivity, _ now: Now) -> [Directive] {
        var notes: [Directive] = []
        switch connectivity {
        case .connected:
            break
        case .rejoined(let contacts):
            reconnectDelay = .seconds(1)
            notes.append(.note(.rejoined(contacts: contacts)))
        case .isolated:
            notes.append(.note(.isolated(retryInSeconds: Int(reconnectDelay / .seconds(1)))))
            nextReconnect = now.monotonic + reconnectDelay
            reconnectDelay = min(reconnectDelay * 2, settings.maxReconnectDelay)
        }
        return notes + publishAndReadProgress(now)
    }

    private mutating func publishAndReadProgress(_ now: Now) -> [Directive] {
        progressReadInFlight = true
        return [.publishProgress(ownProgress(now), lifetimeSeconds: settings.progressLifetimeSeconds), .readProgressWhileTraining]
            + trainOrLeave(now)
    }

    /// The run's progress is in: catch up when behind, check the state and average when the
    /// global batch is complete, else train on.
    mutating func onProgressRead(_ records: [OwnedRecord<PeerProgress>], _ now: Now) -> [Directive] {
        progressReadInFlight = false
        rememberProgress(records, now)
        let global = progressTracker.globalProgress(of: records.map(\.value), now: now.wallMilliseconds)
        if global.step > step {
            return [.note(.behindTheRun(ownStep: step, runStep: global.step))] + beginCatchUp(force: true, progressKnown: true)
        }
        if global.isTargetReached {
            phase = .checkingAgreement(expectedPeers: global.peersAtStep)
            return [.readStateAnnouncements]
        }
        return trainOrLeave(now)
    }
}

/// Samples per second over the recent micro-batches.
struct Throughput: Sendable {
    private var samples = 0.0
    private var seconds = 0.0

    mutating func record(samples count: Int, seconds elapsed: Double) {
        // Exponential forgetting keeps the estimate current without storing a window.
        samples = samples * 0.8 + Double(count)
        seconds = seconds * 0.8 + elapsed
    }

    var samplesPerSecond: Double { seconds > 0 ? samples / seconds : 0 }
}
