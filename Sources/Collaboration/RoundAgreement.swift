/// Which state the peers at one step settle on when they announce different hashes for it.
///
/// The butterfly all-reduce leaves every member with the same state, except when an owner dies
/// while it sends its average (members that received that part apply it, the others skip it),
/// and peers that could not gather step alone. Such peers then announce different hashes and
/// must converge without another exchange. Each picks the hash most of them announce and, on a
/// tie, the smallest one, so peers that see the same announcements pick the same state and only
/// the holders of the others reload. (A plain majority never settles two peers: each would
/// reload the other's state.)
public enum RoundAgreement {
    /// The agreed hash among `hashes` (one per peer, the caller's own included); nil when empty.
    public static func agreedHash(among hashes: [[UInt8]]) -> [UInt8]? {
        let votes = Dictionary(hashes.map { ($0, 1) }, uniquingKeysWith: +)
        return votes.min { first, second in
            first.value != second.value ? first.value > second.value : first.key.lexicographicallyPrecedes(second.key)
        }?.key
    }
}
