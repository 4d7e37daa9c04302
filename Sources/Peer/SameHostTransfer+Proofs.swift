import CohortBase
import Averaging
import NIOCore
import Node
import Wire

/// Proving peers to run on this machine (`SameHostProof`) over the transport: this side's
/// probes, and its answers to the peers' `sameHostProbe` and `sameHostProof` requests.
extension SameHostTransfer {
    /// How long each step of a same-host proof may take.
    static let proofTimeout = TimeAmount.seconds(5)

    /// Starts proofs with the round's owners that listen on a loopback address; the round
    /// does not wait for them (its chunks take the socket until a proof is done).
    func probeOwners(of plan: GroupPlan, me: PeerID, endpoints: [PeerID: Endpoint]) {
        let owners = plan.members.enumerated().compactMap { index, member -> (PeerID, Endpoint)? in
            guard member.peer != me, !plan.parts[index].isEmpty, let endpoint = endpoints[member.peer] else { return nil }
            return (member.peer, endpoint)
        }
        _ = prove(owners)
    }

    /// Proves this process and each of `candidates` that listens on a loopback address (the only
    /// peers that can share this machine without sharing a network namespace's view of it) to
    /// each other; completes when every proof has ended, whichever way.
    func prove(_ candidates: [(PeerID, Endpoint)]) -> EventLoopFuture<Void> {
        guard enabled, let transport else { return eventLoop.makeSucceededVoidFuture() }
        let proofs = candidates.compactMap { peer, endpoint -> EventLoopFuture<Void>? in
            guard endpoint.isLoopback, let secret = peers.startProbe(peer) else { return nil }
            return transport.request(.sameHostProbe, payload: secret, to: endpoint, expecting: peer, timeout: Self.proofTimeout)
                .hop(to: eventLoop)
                .assumeIsolated()
                .flatMap { [self] reply -> EventLoopFuture<Void> in
                    guard reply.frame.type == .sameHostChallenge,
                          let challenge = try? SameHostProof.Exhibit(decoding: reply.frame.payload) else {
                        peers.abandonProbe(peer, reason: "no challenge came back")
                        return eventLoop.makeSucceededVoidFuture()
                    }
                    do {
                        guard let proof = try peers.onChallenge(challenge, from: peer) else {
                            return eventLoop.makeSucceededVoidFuture()
                        }
                        return sendProof(proof, to: peer, at: endpoint)
                    } catch {
                        logger.info("peer not proven to run on this machine", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
                        return eventLoop.makeSucceededVoidFuture()
                    }
                }
                .flatMapErrorThrowing { [self] error in
                    peers.abandonProbe(peer, reason: "\(error)")
                }
                .nonisolated()
        }
        return EventLoopFuture.andAllComplete(proofs, on: eventLoop)
    }

    private func sendProof(_ proof: SameHostProof.Exhibit, to peer: PeerID, at endpoint: Endpoint) -> EventLoopFuture<Void> {
        guard let transport else { return eventLoop.makeSucceededVoidFuture() }
        return transport.request(.sameHostProof, payload: proof.encoded(), to: endpoint, expecting: peer, timeout: Self.proofTimeout)
            .hop(to: eventLoop)
            .assumeIsolated()
            .map { [self] reply in
                guard reply.frame.type == .sameHostProofAccepted else {
                    peers.abandonProbe(peer, reason: "the proof was not accepted")
                    return
                }
                peers.onProofAccepted(from: peer)
                logger.info("peer proven to run on this machine: averaging chunks are copied between the processes",
                            metadata: ["peer.id": "\(peer)"])
            }
            .nonisolated()
    }

    /// A `sameHostProbe`: exhibits the prober's secret and challenges it in return.
    func answerProbe(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        guard enabled else { return eventLoop.makeSucceededFuture(SameHostRefusal("same-host copies are off here").frame) }
        do {
            let challenge = try peers.answer(probe: request.frame.payload, from: request.peer)
            return eventLoop.makeSucceededFuture(Frame(type: .sameHostChallenge, requestID: 0, payload: challenge.encoded()))
        } catch {
            return eventLoop.makeSucceededFuture(SameHostRefusal("\(error)").frame)
        }
    }

    /// A `sameHostProof`: the prober is proven once its process holds the challenge.
    func checkProof(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        do {
            let proof = try SameHostProof.Exhibit(decoding: request.frame.payload)
            try peers.check(proof: proof, from: request.peer)
            logger.info("peer proven to run on this machine: averaging chunks are copied between the processes",
                        metadata: ["peer.id": "\(request.peer)"])
            return eventLoop.makeSucceededFuture(Frame(type: .sameHostProofAccepted, requestID: 0, payload: []))
        } catch {
            return eventLoop.makeSucceededFuture(SameHostRefusal("\(error)").frame)
        }
    }
}

extension Endpoint {
    /// Whether the host is this machine's loopback address (127.0.0.0/8, ::1 or localhost).
    var isLoopback: Bool {
        host.hasPrefix("127.") || host == "::1" || host == "localhost"
    }
}
