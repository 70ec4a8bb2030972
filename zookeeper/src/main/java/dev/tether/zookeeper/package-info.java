/** A service catalog on ZooKeeper, through Curator's service discovery. */
@NullMarked
package dev.tether.zookeeper;

import org.jspecify.annotations.NullMarked;
