import NIOConcurrencyHelpers
import WeftCore

/// Caps the connections a listener holds: in total and per source address, so one host cannot take every slot.
final class ConnectionLimiter: Sendable {
    /// Why a connection was not taken.
    enum Refusal: Error, Equatable, CustomStringConvertible {
        case total(limit: Int)
        case perSource(IPAddress, limit: Int)

        var description: String {
            switch self {
            case .total(let limit): "this node holds its limit of \(limit) HBONE connections"
            case .perSource(let address, let limit): "\(address) holds its limit of \(limit) HBONE connections"
            }
        }
    }

    let maxTotal: Int
    let maxPerSource: Int
    private let counts = NIOLockedValueBox<(total: Int, bySource: [IPAddress: Int])>((0, [:]))

    init(maxTotal: Int, maxPerSource: Int) {
        self.maxTotal = maxTotal
        self.maxPerSource = maxPerSource
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
}
