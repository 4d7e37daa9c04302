import CohortBase
import Admission
import DHT
@testable import Node
import Testing

/// The handshake of admitted-only runs: each side checks the other's access token against the
/// run's key, the key the peer proved, the clock and the revocation list.
@Suite struct AdmissionHandshakeTests {
    let alice = identity(1)
    let bob = identity(2)
    let now = TestRun.now

    func admitted(_ identity: PeerIdentity, token: AccessToken? = nil, rules: AdmissionRules = TestRun.rules) -> HandshakeSide {
        HandshakeSide(identity: identity, rules: rules, token: token ?? TestRun.token(for: identity))
    }

    func run(_ initiator: HandshakeSide, _ responder: HandshakeSide, alter: (Int, inout [UInt8]) -> Void = { _, _ in }) -> HandshakePair {
        var pair = HandshakePair(initiator: initiator, responder: responder, expecting: nil, now: .at(now))
        pair.run(alter: alter)
        return pair
    }

    @Test func tokenedPeersAreEstablishedWithEachOthersVerifiedToken() {
        let pair = run(admitted(alice), admitted(bob))
        guard case .established(let initiatorKeys, _)? = pair.initiatorResult,
              case .established(let responderKeys, _)? = pair.responderResult else {
            Issue.record("not established: \(String(describing: pair.initiatorResult)), \(String(describing: pair.responderResult))")
            return
        }
        #expect(initiatorKeys.remoteToken == TestRun.token(for: bob))
        #expect(responderKeys.remoteToken == TestRun.token(for: alice))
    }

    @Test func missingTokenIsRefusedAndTheRefusedPeerLearnsWhy() {
        let pair = run(HandshakeSide(identity: alice), admitted(bob))
        #expect(pair.responderResult == .failed(.notAdmitted(AdmissionRefusal(.noToken))))
        #expect(pair.initiatorResult == .failed(.refusedByPeer(AdmissionRefusal(.noToken))))
    }

    @Test func tokenOfAnotherPeerIsRefused() {
        let pair = run(admitted(alice, token: TestRun.token(for: bob)), admitted(bob))
        #expect(pair.responderResult == .failed(.notAdmitted(AdmissionRefusal(.otherPeer))))
        #expect(pair.initiatorResult == .failed(.refusedByPeer(AdmissionRefusal(.otherPeer))))
    }

    @Test func expiredTokenIsRefusedFromItsExpiryOn() {
        let expiring = TestRun.token(for: alice, expiry: now)
        #expect(run(admitted(alice, token: expiring), admitted(bob)).initiatorResult
            == .failed(.refusedByPeer(AdmissionRefusal(.expired))))
        let valid = TestRun.token(for: alice, expiry: now + 1)
        guard case .established? = run(admitted(alice, token: valid), admitted(bob)).responderResult else {
            Issue.record("a token valid for one more millisecond was refused")
            return
        }
    }

    @Test func tokenSignedByAnotherKeyIsRefused() {
        let forged = TestRun.token(for: alice, signer: identity(3))
        #expect(run(admitted(alice, token: forged), admitted(bob)).responderResult
            == .failed(.notAdmitted(AdmissionRefusal(.wrongSigner))))
    }

    @Test func tokenForAnotherRunIsRefused() {
        let elsewhere = TestRun.token(for: alice, run: "other-run")
        #expect(run(admitted(alice, token: elsewhere), admitted(bob)).responderResult
            == .failed(.notAdmitted(AdmissionRefusal(.otherRun))))
    }

    @Test func revokedPeerIsRefusedDespiteAValidToken() throws {
        var rules = TestRun.rules
        try rules.apply(TestRun.revoking([alice], sequence: 1))
        let pair = run(admitted(alice), admitted(bob, rules: rules))
        #expect(pair.responderResult == .failed(.notAdmitted(AdmissionRefusal(.revoked))))
        #expect(pair.initiatorResult == .failed(.refusedByPeer(AdmissionRefusal(.revoked))))
    }

    /// Tokens travel in the clear, so anyone can replay a peer's key and token in a hello; the
    /// answer must not tell them whether that key is revoked (issue 11, attack 7).
    @Test func theAnswerToAHelloIsTheSameWhetherOrNotItsKeyIsRevoked() throws {
        var revoking = TestRun.rules
        try revoking.apply(TestRun.revoking([alice], sequence: 1))
        func answer(under rules: AdmissionRules) -> [UInt8] {
            var initiator = Handshake(role: .initiator(expecting: nil), identity: alice, ownToken: TestRun.token(for: alice))
            var responder = Handshake(role: .responder, identity: bob, rules: rules)
            _ = responder.start()
            return HandshakePair.sent(responder.onBytes(HandshakePair.sent(initiator.start()), now: .at(now)))
        }
        let kindOffset = 5
        #expect(answer(under: revoking)[kindOffset] == HandshakeMessage.Kind.responderProof.rawValue)
        #expect(answer(under: revoking).count == answer(under: TestRun.rules).count)
    }

    @Test func aRefusedInitiatorIsNotEstablishedBeforeTheResponderAdmitsIt() {
        var initiator = Handshake(role: .initiator(expecting: nil), identity: alice, ownToken: TestRun.token(for: alice))
        var responder = Handshake(role: .responder, identity: bob, rules: TestRun.rules)
        _ = responder.start()
        let proof = HandshakePair.sent(responder.onBytes(HandshakePair.sent(initiator.start()), now: .at(now)))
        let actions = initiator.onBytes(proof, now: .at(now))
        #expect(actions.allSatisfy { if case .send = $0 { true } else { false } }, "established before the verdict: \(actions)")
    }

    @Test func initiatorRefusesAResponderWithoutAToken() {
        let pair = run(admitted(alice), HandshakeSide(identity: bob))
        #expect(pair.initiatorResult == .failed(.notAdmitted(AdmissionRefusal(.noToken))))
        #expect(pair.responderResult == .failed(.refusedByPeer(AdmissionRefusal(.noToken))))
    }

    @Test func runKeyHolderIsAdmittedWithoutAToken() {
        let pair = run(admitted(alice), HandshakeSide(identity: TestRun.owner, rules: TestRun.rules))
        guard case .established(let keys, _)? = pair.initiatorResult, case .established? = pair.responderResult else {
            Issue.record("the coordinator was refused: \(String(describing: pair.initiatorResult))")
            return
        }
        #expect(keys.remoteToken == nil)
    }

    @Test func openRunNeedsNoTokenAndIgnoresOnePresented() {
        let pair = run(HandshakeSide(identity: alice, token: TestRun.token(for: alice, signer: identity(3))), HandshakeSide(identity: bob))
        guard case .established(let keys, _)? = pair.responderResult, case .established? = pair.initiatorResult else {
            Issue.record("an open run refused a peer: \(String(describing: pair.responderResult))")
            return
        }
        #expect(keys.remoteToken == nil)
    }

    @Test func tokensAreCoveredByBothSignatures() {
        // An attacker in the middle swaps alice's token for another valid one: the responder
        // signs the transcript it saw, which the initiator cannot match.
        let other = TestRun.token(for: alice, expiry: now + 2 * TestRun.hour).encoded
        let pair = run(admitted(alice), admitted(bob)) { index, bytes in
            if index == 0 { bytes.replaceSubrange((bytes.count - other.count)..., with: other) }
        }
        #expect(pair.initiatorResult == .failed(.badSignature))
    }

    @Test func refusalIsNotAValidFirstMessage() {
        var responder = Handshake(role: .responder, identity: bob, rules: TestRun.rules)
        _ = responder.start()
        let refusal = HandshakeMessage.refusal(.noToken).encoded()
        guard case .failed(.malformed)? = responder.onBytes(refusal, now: .at(now)).first else {
            Issue.record("a refusal in place of a hello was accepted")
            return
        }
    }
}
