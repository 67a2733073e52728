/// Identifies a scheduled timer so that it can be cancelled.
struct TimerID: Hashable {
    fileprivate let raw: UInt64
}

/// Timers of the I/O thread: a binary min-heap on deadline, cancelled lazily.
///
/// Cancelling only forgets the callback; the heap entry is skipped when it surfaces, and the heap
/// is compacted when dead entries outnumber live ones, so heavy request churn stays O(log n).
struct TimerHeap {
    private struct Entry {
        let deadline: UInt64
        let id: UInt64
    }

    private var heap: [Entry] = []
    private var callbacks: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 0

    mutating func schedule(at deadline: UInt64, _ fire: @escaping () -> Void) -> TimerID {
        nextID &+= 1
        callbacks[nextID] = fire
        push(Entry(deadline: deadline, id: nextID))
        return TimerID(raw: nextID)
    }

    mutating func cancel(_ timer: TimerID) {
        guard callbacks.removeValue(forKey: timer.raw) != nil else { return }
        if heap.count > 64 && heap.count > 2 * callbacks.count { compact() }
    }

    /// The earliest live deadline, if any.
    var nextDeadline: UInt64? {
        mutating get {
            dropDeadTop()
            return heap.first?.deadline
        }
    }

    /// Removes and returns the callback of the earliest timer due at `now`.
    mutating func popDue(now: UInt64) -> (() -> Void)? {
        dropDeadTop()
        guard let top = heap.first, top.deadline <= now else { return nil }
        popTop()
        return callbacks.removeValue(forKey: top.id)
    }

    private mutating func dropDeadTop() {
        while let top = heap.first, callbacks[top.id] == nil {
            popTop()
        }
    }

    private mutating func compact() {
        heap.removeAll { callbacks[$0.id] == nil }
        guard heap.count > 1 else { return }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) {
            siftDown(index)
        }
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count, heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
