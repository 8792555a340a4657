using System;
using System.Collections.Generic;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Nerdbank.Streams;

namespace Rpc.Tests.Groups;

/// <summary>A publisher-side connection whose peer serves <see cref="RecordingMember"/> over an in-memory pipe.</summary>
public sealed class MemberPair : IAsyncDisposable
{
    private MemberPair(RpcConnection publisherSide, RpcConnection memberSide, RecordingMember member)
    {
        PublisherSide = publisherSide;
        MemberSide = memberSide;
        Member = member;
    }

    /// <summary>Gets the connection the group sends on.</summary>
    public RpcConnection PublisherSide { get; }

    /// <summary>Gets the connection that serves <see cref="Member"/>.</summary>
    public RpcConnection MemberSide { get; }

    public RecordingMember Member { get; }

    /// <param name="startMember">False leaves the member side unread, as a stopped process would: its pipe fills up.</param>
    public static MemberPair Create(int id = 0, bool startMember = true, RpcProtocol? protocol = null)
    {
        var options = new RpcConnectionOptions { Protocol = protocol ?? RpcProtocol.Binary };
        var (publisherPipe, memberPipe) = FullDuplexStream.CreatePipePair();
        var publisherSide = RpcConnection.Create(publisherPipe, options);
        publisherSide.Start();
        var member = new RecordingMember(id);
        var memberSide = RpcConnection.Create(memberPipe, options);
        memberSide.AddService<IGroupMember>(member);
        if (startMember)
        {
            memberSide.Start();
        }

        return new MemberPair(publisherSide, memberSide, member);
    }

    public async ValueTask DisposeAsync()
    {
        await MemberSide.DisposeAsync();
        await PublisherSide.DisposeAsync();
    }
}

public static class GroupAssert
{
    /// <summary>Asserts the ticks are strictly increasing: a gap is a counted drop, never a reordering or a duplicate.</summary>
    public static void InOrder(long[] ticks)
    {
        for (var i = 1; i < ticks.Length; i++)
        {
            Assert.True(ticks[i] > ticks[i - 1], $"tick {ticks[i]} arrived after {ticks[i - 1]} (index {i})");
        }
    }

    public static void All(long[] ticks, int count)
    {
        Assert.Equal(count, ticks.Length);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(i, ticks[i]);
        }
    }
}
