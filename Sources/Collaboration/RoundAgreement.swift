/// Which state the members of a round settle on when they announce different hashes for a step.
///
/// The butterfly all-reduce leaves every member with the same state, except when an owner dies
/// while it sends its average: members that received that part apply it, the others skip it.
/// They then announce different hashes and must converge without another exchange. Each member
/// picks the hash most members announce and, on a tie, the smallest one, so members that see
/// the same announcements pick the same state and only the holders of the others reload. (A
/// plain majority never settles a group of two: each would reload the other's state.)
public enum RoundAgreement {
    /// The agreed hash among `hashes` (one per member, the caller's own included); nil when empty.
    public static func agreedHash(among hashes: [[UInt8]]) -> [UInt8]? {
        let votes = Dictionary(hashes.map { ($0, 1) }, uniquingKeysWith: +)
        return votes.min { first, second in
            first.value != second.value ? first.value > second.value : first.key.lexicographicallyPrecedes(second.key)
        }?.key
    }
}
