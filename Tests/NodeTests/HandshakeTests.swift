import CohortBase
import Admission
import Crypto
import DHT
@testable import Node
import Testing

/// One side of a handshake: who it is, the rules it applies and the token it presents.
struct HandshakeSide {
    var identity: PeerIdentity
    var rules: AdmissionRules? = nil
    var token: AccessToken? = nil
}

/// Runs both sides of a handshake against each other at `now`, optionally altering bytes in flight.
struct HandshakePair {
    var initiator: Handshake
    var responder: Handshake
    var initiatorResult: Handshake.Action?
    var responderResult: Handshake.Action?
    let now: WallClockInstant

    init(initiator: PeerIdentity, responder: PeerIdentity, expecting: PeerID?) {
        self.init(initiator: HandshakeSide(identity: initiator), responder: HandshakeSide(identity: responder), expecting: expecting)
    }

    init(initiator: HandshakeSide, responder: HandshakeSide, expecting: PeerID?, now: WallClockInstant = .epoch) {
        self.initiator = Handshake(role: .initiator(expecting: expecting), identity: initiator.identity, rules: initiator.rules,
                                   ownToken: initiator.token)
        self.responder = Handshake(role: .responder, identity: responder.identity, rules: responder.rules, ownToken: responder.token)
        self.now = now
    }

    /// Exchanges messages until neither side sends; `alter` may change each message (index, bytes).
    mutating func run(alter: (Int, inout [UInt8]) -> Void = { _, _ in }) {
        _ = responder.start()
        var toResponder = Self.sent(initiator.start())
        var index = 0
        while !toResponder.isEmpty {
            alter(index, &toResponder)
            index += 1
            let fromResponder = responder.onBytes(toResponder, now: now)
            record(fromResponder, isInitiator: false)
            var toInitiator = Self.sent(fromResponder)
            guard !toInitiator.isEmpty else { return }
            alter(index, &toInitiator)
            index += 1
            let fromInitiator = initiator.onBytes(toInitiator, now: now)
            record(fromInitiator, isInitiator: true)
            toResponder = Self.sent(fromInitiator)
        }
    }

    private mutating func record(_ actions: [Handshake.Action], isInitiator: Bool) {
        for action in actions {
            if case .send = action { continue }
            if isInitiator { initiatorResult = action } else { responderResult = action }
        }
    }

    static func sent(_ actions: [Handshake.Action]) -> [UInt8] {
        actions.flatMap { action -> [UInt8] in if case .send(let bytes) = action { bytes } else { [] } }
    }
}

func identity(_ seed: UInt64) -> PeerIdentity {
    var generator = SeededBytes(seed: seed)
    return PeerIdentity(using: &generator)
}

struct SeededBytes: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct HandshakeTests {
    let alice = identity(1)
    let bob = identity(2)

    @Test func bothSidesProveTheirIdentityAndAgreeOnMirroredKeys() throws {
        var pair = HandshakePair(initiator: alice, responder: bob, expecting: bob.peerID)
        pair.run()
        guard case .established(let initiatorKeys, let leftoverI)? = pair.initiatorResult,
              case .established(let responderKeys, let leftoverR)? = pair.responderResult else {
            Issue.record("not established: \(String(describing: pair.initiatorResult)), \(String(describing: pair.responderResult))")
            return
        }
        #expect(initiatorKeys.remotePeerID == bob.peerID)
        #expect(responderKeys.remotePeerID == alice.peerID)
        #expect(initiatorKeys.sendKey == responderKeys.receiveKey)
        #expect(initiatorKeys.receiveKey == responderKeys.sendKey)
        #expect(initiatorKeys.sendKey != initiatorKeys.receiveKey)
        #expect(leftoverI.isEmpty && leftoverR.isEmpty)
    }

    @Test func initiatorWithoutExpectationAcceptsAnyProvenPeer() {
        var pair = HandshakePair(initiator: alice, responder: bob, expecting: nil)
        pair.run()
        guard case .established(let keys, _)? = pair.initiatorResult else {
            Issue.record("initiator did not finish: \(String(describing: pair.initiatorResult))")
            return
        }
        #expect(keys.remotePeerID == bob.peerID)
    }

    @Test func initiatorAbortsWhenTheResponderProvesAnotherID() {
        let carol = identity(3)
        var pair = HandshakePair(initiator: alice, responder: bob, expecting: carol.peerID)
        pair.run()
        #expect(pair.initiatorResult == .failed(.unexpectedPeer(expected: carol.peerID, actual: bob.peerID)))
        #expect(pair.responderResult == nil)
    }

    @Test func tamperedResponderSignatureFails() {
        var pair = HandshakePair(initiator: alice, responder: bob, expecting: bob.peerID)
        pair.run { index, bytes in if index == 1 { bytes[100] ^= 0x01 } }
        #expect(pair.initiatorResult == .failed(.badSignature))
    }

    @Test func tamperedInitiatorSignatureFails() {
        var pair = HandshakePair(initiator: alice, responder: bob, expecting: bob.peerID)
        pair.run { index, bytes in if index == 2 { bytes[20] ^= 0x80 } }
        #expect(pair.responderResult == .failed(.badSignature))
    }

    @Test func substitutedEphemeralKeyBreaksTheTranscript() {
        var pair = HandshakePair(initiator: alice, responder: bob, expecting: bob.peerID)
        let other = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        pair.run { index, bytes in if index == 1 { bytes.replaceSubrange(8..<40, with: other) } }
        #expect(pair.initiatorResult == .failed(.badSignature))
    }

    @Test func dialingOneselfFails() {
        var pair = HandshakePair(initiator: alice, responder: alice, expecting: nil)
        pair.run()
        #expect(pair.responderResult == .failed(.connectedToSelf))
    }

    @Test func truncatedMessageWaitsThenTimesOut() {
        var responder = Handshake(role: .responder, identity: bob)
        _ = responder.start()
        var initiator = Handshake(role: .initiator(expecting: nil), identity: alice)
        let hello = HandshakePair.sent(initiator.start())
        #expect(responder.onBytes(hello.prefix(hello.count - 1), now: .epoch).isEmpty)
        #expect(responder.onTimeout() == [.failed(.timedOut)])
        #expect(responder.onBytes(hello.suffix(1), now: .epoch).isEmpty)
        #expect(responder.onTimeout().isEmpty)
    }

    @Test func closeDuringHandshakeFails() {
        var responder = Handshake(role: .responder, identity: bob)
        _ = responder.start()
        #expect(responder.onClose() == [.failed(.closedEarly)])
    }

    @Test func oversizedAnnouncementFailsBeforeTheBodyArrives() {
        var responder = Handshake(role: .responder, identity: bob)
        _ = responder.start()
        let header: [UInt8] = Array("CHRH".utf8) + [4, 1, 0xFF, 0xFF]
        #expect(responder.onBytes(header, now: .epoch) == [.failed(.oversized(0xFFFF))])
    }

    @Test func wrongLengthWrongKindAndGarbageFail() {
        let cases: [[UInt8]] = [
            Array("CHRH".utf8) + [4, 1, 65, 0],
            Array("CHRH".utf8) + [4, 1, 67, 0] + [UInt8](repeating: 0, count: 64) + [0, 0, 0],
            Array("CHRH".utf8) + [4, 3],
            Array("CHRH".utf8) + [4, 4],
            Array("CHRH".utf8) + [1],
            Array("GET / HTTP/1.1\r\n".utf8),
        ]
        for bytes in cases {
            var responder = Handshake(role: .responder, identity: bob)
            _ = responder.start()
            let actions = responder.onBytes(bytes, now: .epoch)
            guard case .failed(.malformed)? = actions.first else {
                Issue.record("\(bytes) gave \(actions)")
                continue
            }
        }
    }

    @Test func bytesAfterTheLastMessageAreHandedOnAsLeftover() {
        var initiator = Handshake(role: .initiator(expecting: bob.peerID), identity: alice)
        var responder = Handshake(role: .responder, identity: bob)
        _ = responder.start()
        let hello = HandshakePair.sent(initiator.start())
        let proof = HandshakePair.sent(responder.onBytes(hello, now: .epoch))
        let finish = HandshakePair.sent(initiator.onBytes(proof, now: .epoch))
        let responderActions = responder.onBytes(finish + [1, 2, 3], now: .epoch)
        let initiatorActions = initiator.onBytes(HandshakePair.sent(responderActions) + [4, 5], now: .epoch)
        func leftover(_ actions: [Handshake.Action]) -> [UInt8]? {
            actions.lazy.compactMap { action -> [UInt8]? in if case .established(_, let leftover) = action { leftover } else { nil } }.first
        }
        #expect(leftover(responderActions) == [1, 2, 3])
        #expect(leftover(initiatorActions) == [4, 5])
    }
}
