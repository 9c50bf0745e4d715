import NIOCore
@testable import RTMGateway
import Testing

/// The socket's inbox as a value: order, the bounds that pause reading, when reading resumes, and
/// when the connection may finish.
@Suite struct InboxTests {
    static func text(_ size: Int) -> Inbox.Item { .text(ByteBuffer(repeating: UInt8(ascii: "x"), count: size)) }

    /// The inbox under test behind a reference, so that `#expect` can hold its mutating calls.
    final class Box {
        var inbox: Inbox
        init(maximumBytes: Int) { inbox = Inbox(maximumBytes: maximumBytes) }
        func add(_ item: Inbox.Item) -> Inbox.Added { inbox.add(item) }
        func next() -> Inbox.Next { inbox.next() }
        func socketClosed() -> Bool { inbox.socketClosed() }
        func shut() { inbox.shut() }
        var isHandling: Bool { inbox.isHandling }
        var isReadingPaused: Bool { inbox.isReadingPaused }
        var bytes: Int { inbox.bytes }
        var items: [Inbox.Item] { Array(inbox.items) }
    }

    @Test func theFirstRequestStartsTheHandlingAndTheRestWait() {
        let inbox = Box(maximumBytes: 1_000)
        #expect(inbox.add(Self.text(1)) == .init(pauseReading: false, startHandling: true))
        #expect(inbox.add(Self.text(2)) == .init(pauseReading: false, startHandling: false))
        #expect(inbox.next() == .handle(Self.text(1), resumeReading: false))
        #expect(inbox.next() == .handle(Self.text(2), resumeReading: false))
        #expect(inbox.next() == .idle(finish: false))
        #expect(!inbox.isHandling)
        #expect(inbox.add(Self.text(3)).startHandling, "a request after the task ended starts a new one")
    }

    @Test func readingPausesAtTheRequestBoundAndResumesBelowHalf() {
        let inbox = Box(maximumBytes: 1 << 20)
        for index in 1..<Inbox.maximumRequests { #expect(!inbox.add(Self.text(1)).pauseReading, "request \(index)") }
        #expect(inbox.add(Self.text(1)).pauseReading)
        #expect(inbox.isReadingPaused)
        var resumedAfter: Int?
        for handled in 1...Inbox.maximumRequests {
            guard case .handle(_, let resume) = inbox.next() else { Issue.record("inbox ran dry"); return }
            if resume { #expect(resumedAfter == nil); resumedAfter = handled }
        }
        #expect(resumedAfter == Inbox.maximumRequests / 2 + 1, "resumes once fewer than half wait")
    }

    @Test func readingPausesAtTheByteBound() {
        let inbox = Box(maximumBytes: 100)
        #expect(!inbox.add(Self.text(60)).pauseReading)
        #expect(inbox.add(Self.text(40)).pauseReading)
        #expect(inbox.bytes == 100)
        #expect(inbox.next() == .handle(Self.text(60), resumeReading: true), "40 bytes left: below half")
        #expect(inbox.bytes == 40)
    }

    @Test func aRefusalHoldsNoBytesAndKeepsItsPlace() {
        let inbox = Box(maximumBytes: 100)
        _ = inbox.add(Self.text(5))
        _ = inbox.add(.refuse(code: 1003, reason: "binary"))
        #expect(inbox.bytes == 5)
        #expect(inbox.next() == .handle(Self.text(5), resumeReading: false))
        #expect(inbox.next() == .handle(.refuse(code: 1003, reason: "binary"), resumeReading: false))
    }

    @Test func aSocketClosedWhileRequestsWaitFinishesOnceTheyAreHandled() {
        let inbox = Box(maximumBytes: 100)
        _ = inbox.add(Self.text(1))
        #expect(!inbox.socketClosed(), "the task is still handling")
        #expect(inbox.add(Self.text(2)) == .init(), "nothing is taken after the socket closed")
        #expect(inbox.next() == .handle(Self.text(1), resumeReading: false))
        #expect(inbox.next() == .idle(finish: true))
    }

    @Test func anIdleInboxFinishesAtOnce() {
        let inbox = Box(maximumBytes: 100)
        #expect(inbox.socketClosed())
    }

    @Test func aShutInboxDropsWhatWaitsAndTakesNothing() {
        let inbox = Box(maximumBytes: 100)
        _ = inbox.add(Self.text(1))
        _ = inbox.add(Self.text(2))
        inbox.shut()
        #expect(inbox.bytes == 0 && inbox.items.isEmpty)
        #expect(inbox.add(Self.text(3)) == .init())
        #expect(inbox.next() == .idle(finish: false))
    }
}
