import Averaging
import CohortBase
import Collaboration

/// The trainer's side of a simulated volunteer: micro-batches trained in chunks, and a round
/// averaging in the background while they go on (local SGD's overlapped rounds, DESIGN.md
/// "Local SGD"), carried out as `PeerSession` carries them out.
extension RunSimulation {
    /// Answers a `train` as `PeerSession.run` does: with the background round's outcome once it
    /// is in, else with the background read's answer once it is in, else with micro-batches.
    func answerTrain(for volunteer: Int, from start: MonotonicInstant) {
        if volunteers[volunteer].backgroundReplay?.fetched != nil {
            deliverBackgroundReplay(to: volunteer)
        } else if volunteers[volunteer].roundInFlight?.outcome != nil {
            deliverRoundOutcome(to: volunteer)
        } else if let finished = volunteers[volunteer].backgroundAnswer {
            volunteers[volunteer].backgroundAnswer = nil
            deliver(finished, to: volunteer)
        } else if let read = volunteers[volunteer].matchmakingAnswer {
            volunteers[volunteer].matchmakingAnswer = nil
            deliver(read, to: volunteer)
        } else {
            startTraining(volunteer, at: start)
        }
    }

    /// One event per progress interval's worth of micro-batches keeps the simulation fast. The
    /// chunk ends where the session would project the run's batch complete, as a real peer
    /// checks after each micro-batch; while its round averages in the background the session
    /// does not look at the run, and the chunk is cut short when the round's outcome comes in.
    private func startTraining(_ volunteer: Int, at start: MonotonicInstant) {
        let profile = volunteers[volunteer].profile
        let session = volunteers[volunteer].session
        let interval = session.settings.progressInterval / .seconds(1)
        var seconds = interval
        if volunteers[volunteer].roundInFlight?.inBackground != true {
            let projected = session.projectedRunProgress(at: now)
            if projected.step == session.step { seconds = min(interval, projected.secondsToTarget) }
        }
        let microBatches = max(1, Int((profile.samplesPerSecond * seconds / Double(settings.microBatch)).rounded()))
        let chunk = TrainingChunk(start: start, microBatches: microBatches, samplesPerMicroBatch: settings.microBatch,
                                  samplesPerSecond: profile.samplesPerSecond)
        volunteers[volunteer].trainingInFlight = chunk
        schedule(.trained(volunteer: volunteer, incarnation: volunteers[volunteer].incarnation, chunk), at: chunk.end)
    }

    /// The chunk's micro-batches are done, unless it was cut short (a later event stands for it).
    func finishTraining(_ chunk: TrainingChunk, by volunteer: Int) {
        guard volunteers[volunteer].trainingInFlight == chunk else { return }
        volunteers[volunteer].trainingInFlight = nil
        volunteers[volunteer].accumulated.add(chunk)
        volunteers[volunteer].roundInFlight?.trainedSeconds += chunk.seconds
        deliver(.trained(samples: chunk.samples, seconds: chunk.seconds, loss: 2), to: volunteer)
    }

    /// `averageAccumulatedGradients`: when rounds overlap training, the training so far is what
    /// the next round averages, and what the volunteer trains from now on (while its group forms
    /// and while the round averages) counts towards the round after. A pseudo-gradient taken
    /// again (a left-out volunteer joining the next round late) adds what was trained since.
    func takePseudoGradient(by volunteer: Int) {
        guard settings.roundsOverlapTraining else { return }
        var averaged = volunteers[volunteer].averagedWork ?? TrainedWork()
        averaged.add(volunteers[volunteer].accumulated)
        volunteers[volunteer].averagedWork = averaged
        volunteers[volunteer].accumulated = TrainedWork()
    }

    /// The volunteer's round starts: under `inBackground` its pseudo-gradient was taken when its
    /// group began to form (`takePseudoGradient`).
    func startRound(_ plan: GroupPlan, volunteer: Int, at arrival: MonotonicInstant, inBackground: Bool) {
        volunteers[volunteer].roundInFlight = RoundInFlight(startedAt: arrival, inBackground: inBackground)
        if inBackground && volunteers[volunteer].averagedWork == nil { takePseudoGradient(by: volunteer) }
        join(plan, volunteer: volunteer, at: arrival)
    }

    /// The round ended for `volunteer`: a session waiting for it hears at once; one training on
    /// hears at its next `train`, after the micro-batch in progress.
    func roundEnded(_ result: AllReduceResult, for volunteer: Int) {
        guard var round = volunteers[volunteer].roundInFlight else {
            preconditionFailure("volunteer \(volunteer) has no round in flight for the outcome of round \(result.roundID)")
        }
        round.outcome = result
        volunteers[volunteer].roundInFlight = round
        if round.isAwaited {
            deliverRoundOutcome(to: volunteer)
        } else if let chunk = volunteers[volunteer].trainingInFlight {
            let cut = chunk.cut(at: time)
            guard cut != chunk else { return }
            volunteers[volunteer].trainingInFlight = cut
            schedule(.trained(volunteer: volunteer, incarnation: volunteers[volunteer].incarnation, cut), at: cut.end)
        }
    }

    /// `awaitRound`: the session stops training until the background round is over.
    func awaitRound(by volunteer: Int) {
        if volunteers[volunteer].roundInFlight?.outcome != nil {
            deliverRoundOutcome(to: volunteer)
        } else {
            volunteers[volunteer].roundInFlight?.isAwaited = true
        }
    }

    private func deliverRoundOutcome(to volunteer: Int) {
        guard let round = volunteers[volunteer].roundInFlight, let outcome = round.outcome else {
            preconditionFailure("volunteer \(volunteer) has no round outcome to deliver: \(String(describing: volunteers[volunteer].roundInFlight))")
        }
        volunteers[volunteer].roundInFlight = nil
        metrics.timeInRounds += time - round.startedAt
        metrics.trainingSecondsInRounds += round.trainedSeconds
        deliver(.roundFinished(outcome), to: volunteer)
    }

    /// `applyUpdate`: what the round averaged went into the run's model; after a round in the
    /// background, what was trained meanwhile stays towards the next update.
    func bookUpdate(by volunteer: Int) {
        let work: TrainedWork
        if let averaged = volunteers[volunteer].averagedWork {
            work = averaged
            volunteers[volunteer].averagedWork = nil
        } else {
            work = volunteers[volunteer].accumulated
            volunteers[volunteer].accumulated = TrainedWork()
        }
        metrics.usefulComputeSeconds += work.seconds
        metrics.usefulSamples += Double(work.samples)
    }

    /// The trainer's gradients and inner steps are gone (discarded, or replaced by a loaded state).
    func forgetTraining(of volunteer: Int) {
        volunteers[volunteer].accumulated = TrainedWork()
        volunteers[volunteer].averagedWork = nil
    }
}
