import Crypto
import DHT
import Wire

/// The Cohort handshake as a pure state machine: bytes in, bytes out, then established or
/// failed. No sockets and no clock; the shell calls `onTimeout` when its deadline passes.
///
/// Three messages (a signed Diffie–Hellman exchange in the manner of SIGMA / ISO 9798-3):
///
///     initiator → responder   hello: ephemeral X25519 key eI, identity key pI
///     responder → initiator   proof: eR, pR, Sign_R("…responder" ‖ h)
///     initiator → responder   proof: Sign_I("…initiator" ‖ h)
///
/// where h = SHA-256(label ‖ eI ‖ pI ‖ eR ‖ pR) covers both ephemerals and both identities, and
/// the role string keeps one side's signature from being replayed as the other's. Each side
/// derives one key per direction with HKDF-SHA256 from X25519(eI, eR), salt h.
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
        /// The peer is authenticated. `leftover` are bytes received after the handshake: the
        /// start of the encrypted record stream.
        case established(SessionKeys, leftover: [UInt8])
        /// Close the connection and log the reason.
        case failed(HandshakeError)
    }

    private enum State: Sendable {
        case idle
        case awaiting(HandshakeMessage.Kind)
        case done
    }

    static let label: [UInt8] = Array("cohort-handshake-v1".utf8)

    public let role: Role
    private let identity: PeerIdentity
    private let ephemeralKey: [UInt8]
    private var state = State.idle
    private var buffer: [UInt8] = []
    private var remoteHello: (ephemeral: [UInt8], identity: [UInt8])?

    /// A handshake for `identity` in `role`, with a fresh ephemeral key unless one is given
    /// (tests pass fixed keys).
    public init(role: Role, identity: PeerIdentity, ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init()) {
        self.role = role
        self.identity = identity
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
            return [.send(HandshakeMessage.initiatorHello(ephemeral: ephemeralPublic, identity: identity.publicKey).encoded())]
        case .responder:
            state = .awaiting(.initiatorHello)
            return []
        }
    }

    /// Bytes arrived from the peer.
    public mutating func onBytes(_ bytes: some Sequence<UInt8>) -> [Action] {
        guard case .awaiting(let kind) = state else { return [] }
        buffer.append(contentsOf: bytes)
        do {
            guard let message = try HandshakeMessage.take(kind, from: &buffer) else { return [] }
            return try handle(message)
        } catch {
            state = .done
            buffer = []
            return [.failed(error)]
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

    private mutating func handle(_ message: HandshakeMessage) throws(HandshakeError) -> [Action] {
        switch message {
        case .initiatorHello(let ephemeral, let remoteIdentity):
            try Self.checkIdentity(remoteIdentity, own: identity)
            remoteHello = (ephemeral, remoteIdentity)
            let transcript = Self.transcriptHash(initiatorEphemeral: ephemeral, initiatorIdentity: remoteIdentity,
                                                 responderEphemeral: ephemeralPublic, responderIdentity: identity.publicKey)
            let signature = sign(Self.signedBytes(role: "responder", transcript: transcript))
            state = .awaiting(.initiatorProof)
            let proof = HandshakeMessage.responderProof(ephemeral: ephemeralPublic, identity: identity.publicKey, signature: signature)
            return [.send(proof.encoded())]
        case .responderProof(let ephemeral, let remoteIdentity, let signature):
            try Self.checkIdentity(remoteIdentity, own: identity)
            let remoteID = PeerID(publicKey: remoteIdentity)
            if case .initiator(let expected?) = role, expected != remoteID {
                throw .unexpectedPeer(expected: expected, actual: remoteID)
            }
            let transcript = Self.transcriptHash(initiatorEphemeral: ephemeralPublic, initiatorIdentity: identity.publicKey,
                                                 responderEphemeral: ephemeral, responderIdentity: remoteIdentity)
            try Self.verify(signature, by: remoteIdentity, over: Self.signedBytes(role: "responder", transcript: transcript))
            let keys = try deriveKeys(remoteEphemeral: ephemeral, remoteIdentity: remoteIdentity, transcript: transcript)
            let proof = HandshakeMessage.initiatorProof(signature: sign(Self.signedBytes(role: "initiator", transcript: transcript)))
            return [.send(proof.encoded()), finish(keys)]
        case .initiatorProof(let signature):
            guard let hello = remoteHello else { preconditionFailure("initiator proof accepted before a hello") }
            let transcript = Self.transcriptHash(initiatorEphemeral: hello.ephemeral, initiatorIdentity: hello.identity,
                                                 responderEphemeral: ephemeralPublic, responderIdentity: identity.publicKey)
            try Self.verify(signature, by: hello.identity, over: Self.signedBytes(role: "initiator", transcript: transcript))
            return [finish(try deriveKeys(remoteEphemeral: hello.ephemeral, remoteIdentity: hello.identity, transcript: transcript))]
        }
    }

    private mutating func finish(_ keys: SessionKeys) -> Action {
        state = .done
        defer { buffer = [] }
        return .established(keys, leftover: buffer)
    }

    private func deriveKeys(remoteEphemeral: [UInt8], remoteIdentity: [UInt8], transcript: [UInt8]) throws(HandshakeError) -> SessionKeys {
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
        return SessionKeys(remotePublicKey: remoteIdentity,
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

    static func transcriptHash(initiatorEphemeral: [UInt8], initiatorIdentity: [UInt8],
                               responderEphemeral: [UInt8], responderIdentity: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        for part in [label, initiatorEphemeral, initiatorIdentity, responderEphemeral, responderIdentity] {
            hash.update(data: part)
        }
        return Array(hash.finalize())
    }

    static func signedBytes(role: String, transcript: [UInt8]) -> [UInt8] {
        label + Array(" \(role)".utf8) + transcript
    }
}

/// The outcome of a handshake: who the peer is and the two directional keys.
public struct SessionKeys: Equatable, Sendable {
    /// The peer's proven Ed25519 public key.
    public let remotePublicKey: [UInt8]
    /// AES-256-GCM key for records this side sends.
    public let sendKey: [UInt8]
    /// AES-256-GCM key for records this side receives.
    public let receiveKey: [UInt8]

    /// The peer's id, derived from its proven key as the DHT does.
    public var remotePeerID: PeerID { PeerID(publicKey: remotePublicKey) }
}
