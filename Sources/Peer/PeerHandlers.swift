import CohortBase
import Collaboration
import Logging
import NIOCore
import Node
import StateSync

/// The peer's handlers of the requests beside the DHT, one per message family, and the router
/// the transport hands those requests to: averaging chunks go to the round driver, same-host
/// proofs to the same-host transfer, state and update requests to their servers.
///
/// Lives on the transport's event loop (`NIOLoopBound`).
struct PeerHandlers {
    let allReduce: AllReduceDriver
    let sameHost: SameHostTransfer
    /// This peer's newest two states, served to downloading peers.
    let states: StateServer
    /// This peer's newest applied updates, served to peers replaying them.
    let updates: UpdateServer
    let router: PeerRequestRouter

    init(eventLoop: EventLoop, logger: Logger, ownID: PeerID, sameHostCopies: Bool, updates: UpdateServer = UpdateServer(keep: 0)) {
        let sameHost = SameHostTransfer(eventLoop: eventLoop, logger: logger, ownID: ownID, enabled: sameHostCopies)
        let allReduce = AllReduceDriver(eventLoop: eventLoop, logger: logger, sameHost: sameHost)
        let states = StateServer(keep: 2)
        var router = PeerRequestRouter(eventLoop: eventLoop)
        router.register(.averagePart) { allReduce.servePart($0) }
        router.register(.averagePartLocal) { allReduce.serveLocalPart($0) }
        router.register(.sameHostProbe) { sameHost.answerProbe($0) }
        router.register(.sameHostProof) { sameHost.checkProof($0) }
        router.register(.stateRequest, .stateManifestRequest) { request in
            eventLoop.makeCompletedFuture { try states.answer(request.frame) }
        }
        router.register(.updatesRequest, .updateChunkRequest) { request in
            eventLoop.makeCompletedFuture { try updates.answer(request.frame) }
        }
        self.allReduce = allReduce
        self.sameHost = sameHost
        self.states = states
        self.updates = updates
        self.router = router
    }

    /// Gives the handlers the transport they send through, once it has started: it needs
    /// `router` to start.
    func attach(_ transport: Transport) {
        allReduce.transport = transport
        sameHost.transport = transport
    }

    /// Serves `snapshot` from now on; its step is this peer's, and chunks held for rounds of
    /// earlier steps are refused.
    func publish(_ snapshot: StateSnapshot) {
        states.publish(snapshot)
        allReduce.onStep(UInt64(snapshot.step))
    }
}
