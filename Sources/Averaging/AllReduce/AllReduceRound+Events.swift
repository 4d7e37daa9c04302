import CohortBase

extension AllReduceRound {
    /// A member's chunk of this owner's part arrived: check it and hold it; once every sender's
    /// chunk is in, drop the senders out of the norm bound and send the chunk's average. Chunks
    /// for another round are ignored; chunks that break the plan or are not finite drop their
    /// sender (`Settings.normBoundFactor` describes the checks). `now` is when the chunk
    /// arrived, which is before the round started for a chunk the shell held until then.
    public mutating func onPartChunk(_ message: PartChunk, now: MonotonicInstant) -> [Action] {
        guard !isFinished, message.roundID == plan.id else { return [] }
        guard let sender = plan.index(of: message.sender), sender != ownIndex else {
            return [.dropPeer(message.sender, reason: "sent a chunk for round \(plan.id) but is not another member of it")]
        }
        guard !failed[sender] else { return [] }
        guard message.part == ownIndex, reducer != nil else {
            return misbehaved(sender, "sent part \(message.part) to a member that does not own it", now: now)
        }
        if let fault = invalidChunk(message.chunk, of: ownIndex, compression: message.compression, byteCount: message.bytes.count) {
            return misbehaved(sender, fault, now: now)
        }
        guard !reducer!.hasReceived(message.chunk, from: sender) else {
            return misbehaved(sender, "sent chunk \(message.chunk) twice", now: now)
        }
        bytesReceived += message.bytes.count
        if arrivals[sender] == nil {
            arrivals[sender] = ChunkArrivals(bytes: message.bytes.count, at: now)
        } else {
            arrivals[sender]!.record(bytes: message.bytes.count, at: now)
        }
        guard !reducer!.isFinalised(message.chunk) else { return [] }
        if let fault = reducer!.add(message.bytes, chunk: message.chunk, from: sender) {
            return misbehaved(sender, badPart(message.chunk, from: sender, fault), now: now)
        }
        return settle([message.chunk]) + finishIfDone(now: now)
    }

    /// An owner's average of a chunk arrived: write it into this member's vector.
    public mutating func onAveragedChunk(_ message: AveragedChunk, from owner: PeerID, now: MonotonicInstant) -> [Action] {
        guard !isFinished, message.roundID == plan.id else { return [] }
        guard let ownerIndex = plan.index(of: owner), ownerIndex != ownIndex else {
            return [.dropPeer(owner, reason: "sent an average for round \(plan.id) but is not another member of it")]
        }
        guard !failed[ownerIndex], !partFailed[ownerIndex] else { return [] }
        guard message.part == ownerIndex else {
            return misbehaved(ownerIndex, "sent an average of part \(message.part), which it does not own", now: now)
        }
        if let fault = invalidChunk(message.chunk, of: ownerIndex, compression: message.compression, byteCount: message.bytes.count) {
            return misbehaved(ownerIndex, fault, now: now)
        }
        guard !averageReceived[ownerIndex][message.chunk] else {
            return misbehaved(ownerIndex, "sent the average of chunk \(message.chunk) twice", now: now)
        }
        let target = UnsafeMutableBufferPointer(rebasing: vector[layout(ofPart: ownerIndex).elements(ofChunk: message.chunk)])
        message.bytes.withUnsafeBytes { settings.compression.decode($0, into: target) }
        return recordAverage(message.chunk, of: ownerIndex, byteCount: message.bytes.count, now: now)
    }

    /// Where an owner's uncompressed average of a chunk goes in this member's vector, for a
    /// shell that writes it there itself (a same-host copy); nil unless the round uses no
    /// compression and the average is one `onAveragedChunk` would take. After writing, call
    /// `onAveragedChunkWritten`; if the write failed, `onPeerFailed` (the chunk's part is then
    /// reported failed, so whatever the write left there is not used).
    public func averagedChunkDestination(roundID: UInt64, part: Int, chunk: Int, compression: Compression, byteCount: Int,
                                         from owner: PeerID) -> UnsafeMutableRawBufferPointer? {
        guard settings.compression == .none, !isFinished, roundID == plan.id, let ownerIndex = plan.index(of: owner),
              ownerIndex != ownIndex, !failed[ownerIndex], !partFailed[ownerIndex], part == ownerIndex,
              invalidChunk(chunk, of: ownerIndex, compression: compression, byteCount: byteCount) == nil,
              !averageReceived[ownerIndex][chunk] else { return nil }
        return UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: vector[layout(ofPart: ownerIndex).elements(ofChunk: chunk)]))
    }

    /// The average `averagedChunkDestination` pointed at has been written there.
    public mutating func onAveragedChunkWritten(part: Int, chunk: Int, byteCount: Int, from owner: PeerID, now: MonotonicInstant) -> [Action] {
        guard !isFinished, let ownerIndex = plan.index(of: owner), ownerIndex == part, !failed[ownerIndex],
              !partFailed[ownerIndex], !averageReceived[ownerIndex][chunk] else { return [] }
        return recordAverage(chunk, of: ownerIndex, byteCount: byteCount, now: now)
    }

    private mutating func recordAverage(_ chunk: Int, of ownerIndex: Int, byteCount: Int, now: MonotonicInstant) -> [Action] {
        averageReceived[ownerIndex][chunk] = true
        averagesMissing[ownerIndex] -= 1
        bytesReceived += byteCount
        return finishIfDone(now: now)
    }

    /// A member is gone (its connection closed, it sent an `Abort`, or the shell gave up on it):
    /// leave it out of the averages still open and give up on its part if unfinished.
    public mutating func onPeerFailed(_ peer: PeerID, now: MonotonicInstant) -> [Action] {
        guard !isFinished, let index = plan.index(of: peer), index != ownIndex, !failed[index] else { return [] }
        return settle(markFailed(index, discardingHeld: false)) + finishIfDone(now: now)
    }

    /// Time passed. At the sender deadline an owner leaves out the senders holding its part up
    /// (those that have not delivered its oldest open chunk) and averages without them; senders
    /// that keep delivering stay in. At the round deadline it leaves out every sender it still
    /// waits for, every part still missing is reported failed, and the round finishes.
    public mutating func onDeadline(now: MonotonicInstant) -> [Action] {
        guard !isFinished else { return [] }
        var actions: [Action] = []
        if let check = nextSilenceCheck, now >= check {
            actions += silentSenders(now: now).map { .checkAlive(plan.members[$0].peer) }
            actions += scheduleSilenceCheck(after: now)
        }
        if now >= senderDeadline, reducer != nil {
            let late = now >= roundDeadline ? reducer!.sendersStillExpected : reducer!.sendersHoldingUp
            var completed: [Int] = []
            for sender in late {
                stalled[sender] = true
                completed += reducer!.leaveOut(sender, discardingHeld: false)
            }
            actions += settle(completed)
        }
        if now >= roundDeadline {
            for part in partFailed.indices where averagesMissing[part] > 0 && !partFailed[part] {
                partFailed[part] = true
                stalled[part] = true
            }
            if secondStage == .awaiting {
                // The members give the part up at their own deadlines, as they do an owner's
                // that never sends its averages.
                secondStage = .done
                partFailed[ownIndex] = true
            }
        }
        return actions + finishIfDone(now: now)
    }

    /// Schedules the next look for silent senders, unless the sender deadline comes first.
    mutating func scheduleSilenceCheck(after now: MonotonicInstant) -> [Action] {
        guard let interval = settings.silenceCheckInterval, now + interval < senderDeadline else {
            nextSilenceCheck = nil
            return []
        }
        nextSilenceCheck = now + interval
        return [.wake(at: now + interval)]
    }

    /// Senders this owner still expects chunks from that have sent none for the check interval.
    /// A client-mode sender that has sent nothing yet is not among them: it may still be
    /// dialling, and it has no address to check.
    private func silentSenders(now: MonotonicInstant) -> [Int] {
        guard let reducer, let interval = settings.silenceCheckInterval else { return [] }
        return reducer.sendersStillExpected.filter { sender in
            guard !failed[sender] else { return false }
            guard let heard = arrivals[sender]?.latest else {
                return !plan.members[sender].clientMode && now - startTime >= interval
            }
            return now - heard >= interval
        }
    }

    /// The owner's inbound rate so far: every sender's rate summed (`AllReduceResult`).
    private var inboundBytesPerSecond: Double? {
        let rates = arrivals.compactMap { $0?.bytesPerSecond }
        return rates.isEmpty ? nil : rates.reduce(0, +)
    }

    private func invalidChunk(_ chunk: Int, of part: Int, compression: Compression, byteCount: Int) -> String? {
        guard compression == settings.compression else {
            return "used codec \(compression) in a round that uses \(settings.compression)"
        }
        let layout = layout(ofPart: part)
        guard chunk < layout.chunkCount else {
            return "sent chunk \(chunk) of part \(part), which has \(layout.chunkCount) chunks"
        }
        let expected = compression.encodedByteCount(elementCount: layout.elements(ofChunk: chunk).count)
        guard byteCount == expected else {
            return "sent \(byteCount) bytes for chunk \(chunk) of part \(part), which encodes to \(expected)"
        }
        return nil
    }

    private func badPart(_ chunk: Int, from sender: Int, _ fault: ContributionFault) -> String {
        "chunk \(chunk) of part \(ownIndex) from \(plan.members[sender].peer.shortDescription): \(fault)"
    }

    mutating func misbehaved(_ member: Int, _ reason: String, now: MonotonicInstant) -> [Action] {
        let completed = drop(member, reason)
        return [.dropPeer(plan.members[member].peer, reason: reason)] + settle(completed) + finishIfDone(now: now)
    }

    /// Records why `member` is dropped and leaves it out, discarding what it sent for chunks not
    /// yet averaged; returns the chunks now complete.
    private mutating func drop(_ member: Int, _ reason: String) -> [Int] {
        dropped.append(AllReduceResult.DroppedPeer(peer: plan.members[member].peer, reason: reason))
        return markFailed(member, discardingHeld: true)
    }

    /// Returns the chunks of this owner's part that are complete without `member`.
    private mutating func markFailed(_ member: Int, discardingHeld: Bool) -> [Int] {
        failed[member] = true
        if averagesMissing[member] > 0 {
            partFailed[member] = true
        }
        return reducer?.leaveOut(member, discardingHeld: discardingHeld) ?? []
    }

    /// Judges and averages the complete chunks among `chunks`, lowest first: senders out of the
    /// norm bound are dropped (which may complete further chunks, settled in turn), then the
    /// chunk's average goes to every member still in.
    private mutating func settle(_ chunks: [Int]) -> [Action] {
        guard reducer != nil else { return [] }
        var open = Set(chunks)
        var actions: [Action] = []
        while let chunk = open.min() {
            open.remove(chunk)
            guard reducer!.isComplete(chunk) else { continue }
            for (sender, fault) in reducer!.outliers(in: chunk, vector: vector) {
                let reason = badPart(chunk, from: sender, fault)
                actions.append(.dropPeer(plan.members[sender].peer, reason: reason))
                open.formUnion(drop(sender, reason))
            }
            reducer!.finalise(chunk, vector: vector)
            if !settings.averagesPartAcrossGroups { actions += sendAverage(of: chunk) }
        }
        if settings.averagesPartAcrossGroups, secondStage == .reducing, reducer!.isDone {
            secondStage = .awaiting
            actions.append(.partReduced(elements: plan.parts[ownIndex]))
        }
        return actions
    }

    /// Sends this owner's average of `chunk` to every member still in.
    mutating func sendAverage(of chunk: Int) -> [Action] {
        let recipients = otherMembersStillIn
        guard !recipients.isEmpty else { return [] }
        let elements = reducer!.layout.elements(ofChunk: chunk)
        bytesSent += settings.compression.encodedByteCount(elementCount: elements.count) * recipients.count
        return [.sendAveragedChunk(ChunkReference(part: ownIndex, chunk: chunk, elements: elements), to: recipients)]
    }

    var otherMembersStillIn: [PeerID] {
        plan.members.indices.filter { $0 != ownIndex && !failed[$0] }.map { plan.members[$0].peer }
    }

    mutating func finishIfDone(now: MonotonicInstant) -> [Action] {
        let ownDone = (reducer?.isDone ?? true) && secondStage != .awaiting
        guard !isFinished, ownDone, averagesMissing.indices.allSatisfy({ averagesMissing[$0] == 0 || partFailed[$0] }) else {
            return []
        }
        let rejected = rejectBadAverages()
        isFinished = true
        let weights = plan.weights
        let leftOut = plan.members.indices.filter { failed[$0] || stalled[$0] }
        let participants = plan.members.indices.filter { !leftOut.contains($0) }
        return rejected + [.finished(AllReduceResult(
            roundID: plan.id,
            participants: participants.map { plan.members[$0].peer },
            leftOut: leftOut.map { plan.members[$0].peer },
            // The capped weights, not the declared counts, and never past a report's bound: one
            // member (or, with the median theirs, several) declaring 2⁴⁰ samples would otherwise
            // make every member's round report unreadable.
            totalSamples: min(participants.reduce(0) { $0 &+ weights[$1] }, Declaration.maxSamples),
            plannedSamples: min(weights.reduce(0, &+), Declaration.maxSamples),
            bytesSent: bytesSent,
            bytesReceived: bytesReceived,
            // A chunk held from before the start arrives with an earlier time.
            duration: now < startTime ? .zero : now - startTime,
            failedParts: (plan.parts.indices.filter { partFailed[$0] }.map { plan.parts[$0] } + skippedRanges)
                .sorted { $0.lowerBound < $1.lowerBound },
            dropped: dropped,
            silent: leftOut.filter(sentNothingExpected).map { plan.members[$0].peer },
            inboundBytesPerSecond: inboundBytesPerSecond,
            outOfBoundAverages: outOfBoundOwners))]
    }
}
