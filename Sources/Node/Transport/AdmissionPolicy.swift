import Admission
import CohortBase
import DHT

/// Who may connect to a node, and what the node presents itself (docs/protocol.md,
/// "Admission"). The default admits anyone: an open run.
public struct AdmissionPolicy: Sendable {
    /// What every peer must pass in the handshake; nil admits anyone (an open run).
    public var rules: AdmissionRules?
    /// The token this node presents; nil for none (an open run, or the run key's holder).
    public var ownToken: AccessToken?
    /// The transport's clock: token expiries are checked against its wall-clock reading, and
    /// bans run on its monotonic one (a test's `ManualClock` moves both).
    public var clock: any ProtocolClock

    public init(rules: AdmissionRules? = nil, ownToken: AccessToken? = nil, clock: any ProtocolClock = SystemClock()) {
        self.rules = rules
        self.ownToken = ownToken
        self.clock = clock
    }

    /// Any peer may connect, and tokens presented are ignored.
    public static var open: AdmissionPolicy { AdmissionPolicy() }

    /// Only the run key's holder and peers with a valid token for the run, checked under `rules`.
    public static func admittedOnly(_ rules: AdmissionRules, presenting ownToken: AccessToken?) -> AdmissionPolicy {
        AdmissionPolicy(rules: rules, ownToken: ownToken)
    }

    /// Admitted-only under the run `token` admits to, trusting its issuer as the run key (the
    /// volunteer got the token from the run's operator), presenting it. Checks first that the
    /// token is `identity`'s and valid now, so a wrong file fails at start with its reason
    /// rather than as refused connections.
    public static func presenting(_ token: AccessToken, as identity: PeerIdentity,
                                  clock: any ProtocolClock = SystemClock()) throws(AdmissionRefusal) -> AdmissionPolicy {
        let rules = AdmissionRules(trusting: token)
        try rules.check(token, provenKey: identity.publicKey, now: clock.now().wall)
        return AdmissionPolicy(rules: rules, ownToken: token, clock: clock)
    }
}
