import CohortBase
import Admission
import Crypto
import DHT
import Wire

/// The Cohort handshake as a pure state machine: bytes in, bytes out, then established or
/// failed. No sockets and no clock: the shell passes the time with each event and calls
/// `onTimeout` when its deadline passes.
///
/// A signed Diffie–Hellman exchange in the manner of SIGMA / ISO 9798-3, then the verdict:
///
///     initiator → responder   hello: ephemeral X25519 key eI, identity key pI, token tI
///     responder → initiator   proof: eR, pR, Sign_R("…responder" ‖ h), token tR
///     initiator → responder   proof: Sign_I("…initiator" ‖ h)
///     responder → initiator   admitted
///
/// where h = SHA-256(label ‖ eI ‖ pI ‖ tI ‖ eR ‖ pR ‖ tR) covers both ephemerals, both
/// identities and both access tokens, and the role string keeps one side's signature from
/// being replayed as the other's. Each side derives one key per direction with HKDF-SHA256
/// from X25519(eI, eR), salt h.
///
/// With admission rules (an admitted-only run) each side checks the other's token once the
/// other's signature proved its key, never before: a verdict told to a party that has not
/// proven the key would tell anyone who replays a token (they are visible on the wire)
/// whether its key is revoked. A side that refuses a token sends a refusal naming the reason
/// instead of its next message, so the refused peer can tell its operator what is wrong;
/// that is why the initiator waits for the responder's "admitted" before it is established.
public struct Handshake: Sendable {
    /// Which side of the connection this is.
    public enum Role: Equatable, Sendable {
        /// Opened the connection; when `expecting` is set, the responder must prove that id.
        case initiator(expecting: PeerID?)
        /// Accepted the connection.
        case responder
    }

    /// What the shell must do after an event.
    public enum Action: Equatable, Sendable {
        /// Write these bytes to the peer.
        case send([UInt8])
        /// The peer is authenticated (and admitted). `leftover` are bytes received after the
        /// handshake: the start of the encrypted record stream.
        case established(SessionKeys, leftover: [UInt8])
        /// Close the connection (after writing what was sent) and log the reason.
        case failed(HandshakeError)
    }

    private enum State: Sendable {
        case idle
        case awaiting(HandshakeMessage.Kind)
        case done
    }

    /// The initiator's hello as the responder keeps it until the initiator's proof.
    private struct Hello: Sendable {
        var ephemeral: [UInt8]
        var identity: [UInt8]
        var token: [UInt8]
    }

    static let label: [UInt8] = Array("cohort-handshake-v3".utf8)

    public let role: Role
    private let identity: PeerIdentity
    private let ephemeralKey: [UInt8]
    /// What the peer must pass; nil admits anyone (an open run).
    private let rules: AdmissionRules?
    /// The encoded token this side presents; empty for none.
    private let ownToken: [UInt8]
    private var state = State.idle
    private var buffer: [UInt8] = []
    private var remoteHello: Hello?
    /// The initiator's keys while it waits for the responder's verdict.
    private var keysAwaitingAdmission: SessionKeys?

    /// A handshake for `identity` in `role` that presents `ownToken` and requires the peer to
    /// pass `rules`, with a fresh ephemeral key unless one is given (tests pass fixed keys).
    public init(role: Role, identity: PeerIdentity, rules: AdmissionRules? = nil, ownToken: AccessToken? = nil,
                ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init()) {
        self.role = role
        self.identity = identity
        self.rules = rules
        self.ownToken = ownToken?.encoded ?? []
        self.ephemeralKey = Array(ephemeralKey.rawRepresentation)
    }

    private var ephemeralPublic: [UInt8] { Array(privateEphemeral.publicKey.rawRepresentation) }

    private var privateEphemeral: Curve25519.KeyAgreement.PrivateKey {
        guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: ephemeralKey) else {
            preconditionFailure("a stored X25519 key of \(ephemeralKey.count) bytes does not load")
        }
        return key
    }

    /// Starts the handshake: the initiator sends its hello, the responder waits for one.
    public mutating func start() -> [Action] {
        guard case .idle = state else { preconditionFailure("handshake started twice in state \(state)") }
        switch role {
        case .initiator:
            state = .awaiting(.responderProof)
            let hello = HandshakeMessage.initiatorHello(ephemeral: ephemeralPublic, identity: identity.publicKey, token: ownToken)
            return [.send(hello.encoded())]
        case .responder:
            state = .awaiting(.initiatorHello)
            return []
        }
    }

    /// Bytes arrived from the peer at `now` (wall-clock time, which token expiries are
    /// written in).
    public mutating func onBytes(_ bytes: some Sequence<UInt8>, now: WallClockInstant) -> [Action] {
        guard case .awaiting(let kind) = state else { return [] }
        buffer.append(contentsOf: bytes)
        do {
            guard let message = try HandshakeMessage.take(kind, from: &buffer) else { return [] }
            return try handle(message, now: now)
        } catch {
            state = .done
            buffer = []
            guard case .notAdmitted(let refusal) = error else { return [.failed(error)] }
            return [.send(HandshakeMessage.refusal(refusal.reason).encoded()), .failed(error)]
        }
    }

    /// The shell's deadline passed.
    public mutating func onTimeout() -> [Action] {
        fail(.timedOut)
    }

    /// The connection closed.
    public mutating func onClose() -> [Action] {
        fail(.closedEarly)
    }

    private mutating func fail(_ error: HandshakeError) -> [Action] {
        guard case .done = state else {
            state = .done
            return [.failed(error)]
        }
        return []
    }

    private mutating func handle(_ message: HandshakeMessage, now: WallClockInstant) throws(HandshakeError) -> [Action] {
        switch message {
        case .initiatorHello(let ephemeral, let remoteIdentity, let token):
            try Self.checkIdentity(remoteIdentity, own: identity)
            let hello = Hello(ephemeral: ephemeral, identity: remoteIdentity, token: token)
            remoteHello = hello
            let transcript = transcriptHash(hello: hello, responderEphemeral: ephemeralPublic, responderIdentity: identity.publicKey,
                                            responderToken: ownToken)
            let signature = sign(Self.signedBytes(role: "responder", transcript: transcript))
            state = .awaiting(.initiatorProof)
            let proof = HandshakeMessage.responderProof(ephemeral: ephemeralPublic, identity: identity.publicKey,
                                                        signature: signature, token: ownToken)
            return [.send(proof.encoded())]
        case .responderProof(let ephemeral, let remoteIdentity, let signature, let token):
            try Self.checkIdentity(remoteIdentity, own: identity)
            let remoteID = PeerID(publicKey: remoteIdentity)
            if case .initiator(let expected?) = role, expected != remoteID {
                throw .unexpectedPeer(expected: expected, actual: remoteID)
            }
            let hello = Hello(ephemeral: ephemeralPublic, identity: identity.publicKey, token: ownToken)
            let transcript = transcriptHash(hello: hello, responderEphemeral: ephemeral, responderIdentity: remoteIdentity,
                                            responderToken: token)
            try Self.verify(signature, by: remoteIdentity, over: Self.signedBytes(role: "responder", transcript: transcript))
            let admitted = try admit(token, from: remoteIdentity, now: now)
            let keys = try deriveKeys(remoteEphemeral: ephemeral, remoteIdentity: remoteIdentity, remoteToken: admitted,
                                      transcript: transcript)
            let proof = HandshakeMessage.initiatorProof(signature: sign(Self.signedBytes(role: "initiator", transcript: transcript)))
            keysAwaitingAdmission = keys
            state = .awaiting(.admitted)
            return [.send(proof.encoded())]
        case .initiatorProof(let signature):
            guard let hello = remoteHello else { preconditionFailure("initiator proof accepted before a hello") }
            let transcript = transcriptHash(hello: hello, responderEphemeral: ephemeralPublic, responderIdentity: identity.publicKey,
                                            responderToken: ownToken)
            try Self.verify(signature, by: hello.identity, over: Self.signedBytes(role: "initiator", transcript: transcript))
            let admitted = try admit(hello.token, from: hello.identity, now: now)
            let keys = try deriveKeys(remoteEphemeral: hello.ephemeral, remoteIdentity: hello.identity, remoteToken: admitted,
                                      transcript: transcript)
            return [.send(HandshakeMessage.admitted.encoded()), finish(keys)]
        case .admitted:
            guard let keys = keysAwaitingAdmission else { preconditionFailure("admitted before the initiator's proof was sent") }
            return [finish(keys)]
        case .refusal(let reason):
            throw .refusedByPeer(AdmissionRefusal(reason))
        }
    }

    /// The peer's verified token under this side's rules; nil without rules or for the run
    /// key's holder.
    private func admit(_ token: [UInt8], from remoteIdentity: [UInt8], now: WallClockInstant) throws(HandshakeError) -> AccessToken? {
        guard let rules else { return nil }
        do {
            return try rules.admit(presented: token, provenKey: remoteIdentity, now: now)
        } catch {
            throw .notAdmitted(error)
        }
    }

    private mutating func finish(_ keys: SessionKeys) -> Action {
        state = .done
        defer { buffer = [] }
        return .established(keys, leftover: buffer)
    }

    private func deriveKeys(remoteEphemeral: [UInt8], remoteIdentity: [UInt8], remoteToken: AccessToken?,
                            transcript: [UInt8]) throws(HandshakeError) -> SessionKeys {
        guard let remote = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: remoteEphemeral),
              let shared = try? privateEphemeral.sharedSecretFromKeyAgreement(with: remote) else {
            throw .invalidKey("ephemeral key gives no shared secret")
        }
        func key(_ direction: String) -> [UInt8] {
            let derived = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: transcript,
                                                         sharedInfo: Self.label + Array(" \(direction)".utf8), outputByteCount: 32)
            return derived.withUnsafeBytes { Array($0) }
        }
        let initiatorToResponder = key("initiator->responder")
        let responderToInitiator = key("responder->initiator")
        let isInitiator = role != .responder
        return SessionKeys(remotePublicKey: remoteIdentity, remoteToken: remoteToken,
                           sendKey: isInitiator ? initiatorToResponder : responderToInitiator,
                           receiveKey: isInitiator ? responderToInitiator : initiatorToResponder)
    }

    private func sign(_ bytes: [UInt8]) -> [UInt8] {
        guard let signature = try? identity.privateKey.signature(for: bytes) else {
            preconditionFailure("Ed25519 signing does not fail for a valid key")
        }
        return Array(signature)
    }

    private static func checkIdentity(_ remote: [UInt8], own: PeerIdentity) throws(HandshakeError) {
        guard (try? Curve25519.Signing.PublicKey(rawRepresentation: remote)) != nil else {
            throw .invalidKey("identity key does not load")
        }
        if remote == own.publicKey { throw .connectedToSelf }
    }

    private static func verify(_ signature: [UInt8], by publicKey: [UInt8], over bytes: [UInt8]) throws(HandshakeError) {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey),
              key.isValidSignature(signature, for: bytes) else { throw .badSignature }
    }

    /// h = SHA-256(label ‖ eI ‖ pI ‖ u16 len ‖ tI ‖ eR ‖ pR ‖ u16 len ‖ tR).
    private func transcriptHash(hello: Hello, responderEphemeral: [UInt8], responderIdentity: [UInt8],
                                responderToken: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        var initiatorToken = ByteWriter(reservingCapacity: 2 + hello.token.count)
        initiatorToken.writeWithU16Length(hello.token)
        var responderTokenBytes = ByteWriter(reservingCapacity: 2 + responderToken.count)
        responderTokenBytes.writeWithU16Length(responderToken)
        for part in [Self.label, hello.ephemeral, hello.identity, initiatorToken.bytes,
                     responderEphemeral, responderIdentity, responderTokenBytes.bytes] {
            hash.update(data: part)
        }
        return Array(hash.finalize())
    }

    static func signedBytes(role: String, transcript: [UInt8]) -> [UInt8] {
        label + Array(" \(role)".utf8) + transcript
    }
}

/// The outcome of a handshake: who the peer is, the token it was admitted with, and the two
/// directional keys.
public struct SessionKeys: Equatable, Sendable {
    /// The peer's proven Ed25519 public key.
    public let remotePublicKey: [UInt8]
    /// The peer's verified access token; nil in an open run and for the run key's holder.
    public let remoteToken: AccessToken?
    /// AES-256-GCM key for records this side sends.
    public let sendKey: [UInt8]
    /// AES-256-GCM key for records this side receives.
    public let receiveKey: [UInt8]

    /// The peer's id, derived from its proven key as the DHT does.
    public var remotePeerID: PeerID { PeerID(publicKey: remotePublicKey) }
}
