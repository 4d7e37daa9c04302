import CohortBase

/// Who may take part in an admitted-only run, as a pure value: the run's name and public key
/// and the newest revocation list applied. Each node holds one and checks every peer with it
/// in the handshake; time is an input, so tests replay expiries exactly.
public struct AdmissionRules: Hashable, Sendable {
    public let runName: String
    /// The run's (coordinator's) raw Ed25519 public key: it signs tokens and revocation lists,
    /// and its holder is admitted without a token.
    public let runPublicKey: [UInt8]
    /// The newest verified revocation list, nil before the first.
    public private(set) var revocations: RevocationList?
    /// The keys of `revocations`, for lookups.
    public private(set) var revokedKeys: Set<[UInt8]> = []

    public init(runName: String, runPublicKey: [UInt8]) {
        self.runName = runName
        self.runPublicKey = runPublicKey
    }

    /// Rules for the run a token admits to: its run name and its issuer as the run key. A
    /// volunteer received its token from the run's operator, so the issuer is the key to trust.
    public init(trusting token: AccessToken) {
        self.init(runName: token.claims.runName, runPublicKey: token.issuerPublicKey)
    }

    /// Checks the token a peer presented (`presented`, empty for none) against the key it
    /// proved. Returns the verified token, or nil for the run key's holder, who needs none.
    public func admit(presented: [UInt8], provenKey: [UInt8], now: WallClockInstant) throws(AdmissionRefusal) -> AccessToken? {
        if provenKey == runPublicKey { return nil }
        if revokedKeys.contains(provenKey) {
            throw AdmissionRefusal(.revoked, "key \(AdmissionText.shortKey(provenKey)), revocation list \(revocations?.contents.sequence ?? 0)")
        }
        guard !presented.isEmpty else { throw AdmissionRefusal(.noToken) }
        let token: AccessToken
        do {
            token = try AccessToken(decoding: presented)
        } catch {
            throw AdmissionRefusal(.malformedToken, error.description)
        }
        try check(token, provenKey: provenKey, now: now)
        return token
    }

    /// Checks a decoded token, e.g. a volunteer's own at start-up (with its own key).
    public func check(_ token: AccessToken, provenKey: [UInt8], now: WallClockInstant) throws(AdmissionRefusal) {
        guard token.issuerPublicKey == runPublicKey else {
            throw AdmissionRefusal(.wrongSigner, "signed by \(AdmissionText.shortKey(token.issuerPublicKey)), run key \(AdmissionText.shortKey(runPublicKey))")
        }
        guard token.hasValidSignature else { throw AdmissionRefusal(.badSignature) }
        guard token.claims.runName == runName else {
            throw AdmissionRefusal(.otherRun, "token for \(token.claims.runName), this run is \(runName)")
        }
        guard token.claims.peerPublicKey == provenKey else {
            throw AdmissionRefusal(.otherPeer, "issued to \(AdmissionText.shortKey(token.claims.peerPublicKey)), peer proved \(AdmissionText.shortKey(provenKey))")
        }
        guard now < token.claims.expiresAt else {
            throw AdmissionRefusal(.expired, "\(token.claims.name)'s token expired at \(token.claims.expiresAt.iso8601)")
        }
        if revokedKeys.contains(provenKey) { throw AdmissionRefusal(.revoked, "key \(AdmissionText.shortKey(provenKey))") }
    }

    /// Applies `list` if it is the run's, signed by the run key, and newer than the one held.
    /// Returns whether it replaced the held list; throws when it is not the run's.
    @discardableResult
    public mutating func apply(_ list: RevocationList) throws(AdmissionError) -> Bool {
        guard list.issuerPublicKey == runPublicKey else {
            throw AdmissionError("revocation list is signed by \(AdmissionText.shortKey(list.issuerPublicKey)), not the run key")
        }
        guard list.hasValidSignature else { throw AdmissionError("revocation list signature does not verify") }
        guard list.contents.runName == runName else {
            throw AdmissionError("revocation list is for run \(list.contents.runName), not \(runName)")
        }
        guard list.contents.sequence > (revocations?.contents.sequence ?? 0) else { return false }
        revocations = list
        revokedKeys = Set(list.contents.revokedKeys)
        return true
    }

    /// Applies the newest of several encoded lists (the values under the run's revocation key)
    /// that decode and verify; others are skipped. Returns the list applied, if any.
    public mutating func applyNewest(of encodedLists: [[UInt8]]) -> RevocationList? {
        var applied: RevocationList?
        // `apply` takes only a higher sequence than it holds, so the last one it takes is the newest.
        for bytes in encodedLists {
            guard let list = try? RevocationList(decoding: bytes), (try? apply(list)) == true else { continue }
            applied = list
        }
        return applied
    }
}
