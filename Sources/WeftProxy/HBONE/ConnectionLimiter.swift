import NIOConcurrencyHelpers
import WeftCore

/// Caps the connections a listener holds: in total and per source address at accept, and per peer identity once
/// the handshake says who it is, so neither one host nor one (perhaps stolen) identity can take every slot.
final class ConnectionLimiter: Sendable {
    /// Why a connection was not taken.
    enum Refusal: Error, Equatable, CustomStringConvertible {
        case total(limit: Int)
        case perSource(IPAddress, limit: Int)
        case perIdentity(SPIFFEID, limit: Int)

        var description: String {
            switch self {
            case .total(let limit): "this node holds its limit of \(limit) HBONE connections"
            case .perSource(let address, let limit): "\(address) holds its limit of \(limit) HBONE connections"
            case .perIdentity(let identity, let limit): "\(identity) holds its limit of \(limit) HBONE connections"
            }
        }
    }

    private struct Counts {
        var total = 0
        var bySource: [IPAddress: Int] = [:]
        var byIdentity: [SPIFFEID: Int] = [:]
    }

    let maxTotal: Int
    let maxPerSource: Int
    let maxPerIdentity: Int
    private let counts = NIOLockedValueBox(Counts())

    init(maxTotal: Int, maxPerSource: Int, maxPerIdentity: Int = .max) {
        self.maxTotal = maxTotal
        self.maxPerSource = maxPerSource
        self.maxPerIdentity = maxPerIdentity
    }

    /// Takes a slot for a connection from `source`; call `release(source)` once when it closes.
    func acquire(_ source: IPAddress) throws(Refusal) {
        let refusal = counts.withLockedValue { counts -> Refusal? in
            guard counts.total < maxTotal else { return .total(limit: maxTotal) }
            let held = counts.bySource[source, default: 0]
            guard held < maxPerSource else { return .perSource(source, limit: maxPerSource) }
            counts.total += 1
            counts.bySource[source] = held + 1
            return nil
        }
        if let refusal { throw refusal }
    }

    func release(_ source: IPAddress) {
        counts.withLockedValue { counts in
            counts.total -= 1
            let held = counts.bySource[source, default: 1] - 1
            counts.bySource[source] = held > 0 ? held : nil
        }
    }

    /// Takes a slot for a connection whose peer proved `identity`; call `release(identity)` once when it closes.
    func acquire(_ identity: SPIFFEID) throws(Refusal) {
        let refusal = counts.withLockedValue { counts -> Refusal? in
            let held = counts.byIdentity[identity, default: 0]
            guard held < maxPerIdentity else { return .perIdentity(identity, limit: maxPerIdentity) }
            counts.byIdentity[identity] = held + 1
            return nil
        }
        if let refusal { throw refusal }
    }

    func release(_ identity: SPIFFEID) {
        counts.withLockedValue { counts in
            let held = counts.byIdentity[identity, default: 1] - 1
            counts.byIdentity[identity] = held > 0 ? held : nil
        }
    }
}
